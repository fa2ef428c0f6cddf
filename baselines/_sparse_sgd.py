"""SGD with lazy per-row momentum for per-sample parameters (DiscrimLoss's log σ, spec a.3), in O(batch).

The official ``optimizer/sparse_sgd.py`` (Data Parameters heritage) runs ordinary momentum SGD over all N
entries and then restores, for every entry whose gradient is exactly zero, both the parameter and its
momentum buffer. Samples outside the minibatch therefore keep their momentum until their next visit (once
per epoch) instead of decaying it. Every row outside the batch has a zero gradient, so the same step
touches only the batch's rows: this module does that, in O(B) work and without a host sync, from the
gradient of the gathered rows. Written here from that description.
"""

from __future__ import annotations

import torch

from baselines._functional import scalar

__all__ = ["sparse_sgd_rows"]


@torch.no_grad()
def sparse_sgd_rows(
    param: torch.Tensor,
    buf: torch.Tensor,
    idx: torch.Tensor,
    grad: torch.Tensor,
    lr: float,
    momentum: float,
    scratch: torch.Tensor | None,
    bounds: tuple[float, float],
    current: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> None:
    """One in-place lazy-momentum SGD step (no dampening, Nesterov or weight decay) on the rows ``idx``,
    then a clamp of those rows to ``bounds``.

    It equals the dense step on the N-long gradient ``zeros(N).index_put_(idx, grad, accumulate=True)``
    followed by a clamp of all N entries, provided the rows outside ``idx`` already lie within ``bounds``
    (clamp everything once before the first call): rows with an exactly-zero summed gradient keep their
    parameter and momentum, and a row that appears several times in ``idx`` receives the sum of its
    gradients once, as the dense gradient holds it. The buffer starts at zero, so the first visit sets it
    to a copy of the gradient (μ·0 + g = g), as torch's SGD does on its first step.

    Args:
        param: (N,) float, updated in place.
        buf: (N,) float momentum buffer, updated in place.
        idx: (B,) int64 rows, repeated rows allowed when ``scratch`` is given.
        grad: (B,) gradient of ``param[idx]`` (one entry per position of ``idx``).
        lr: learning rate.
        momentum: momentum factor μ.
        scratch: (N,) zeros of ``grad``'s dtype, used to sum duplicate rows of ``idx`` and left all zeros;
            None when the caller knows the rows are distinct (three tensor operations fewer).
        bounds: (low, high) clamp of the updated rows.
        current: ``(param[idx], buf[idx])`` when the caller gathered them already (two gathers fewer).
    """
    g = grad
    if scratch is not None:
        scratch.index_add_(0, idx, grad)
        g = scratch.index_select(0, idx)  # each position's row total (a duplicate row reads the same sum)
        scratch.index_fill_(0, idx, 0.0)
    if current is None:
        current = param.index_select(0, idx), buf.index_select(0, idx)
    old_param, old_buf = current
    active = g != scalar(0.0, g.dtype)
    new_buf = scalar(momentum, buf.dtype) * old_buf + g
    buf.index_copy_(0, idx, torch.where(active, new_buf, old_buf))
    stepped = old_param - scalar(lr, new_buf.dtype) * new_buf
    param.index_copy_(0, idx, torch.where(active, stepped, old_param).clamp_(*bounds))
