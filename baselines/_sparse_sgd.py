"""SGD with lazy per-row momentum for per-sample parameters (DiscrimLoss's log σ, spec a.3).

The official ``optimizer/sparse_sgd.py`` (Data Parameters heritage) runs ordinary momentum SGD and then
restores, for every entry whose gradient is exactly zero, both the parameter and its momentum buffer.
Samples outside the minibatch therefore keep their momentum until their next visit (once per epoch)
instead of decaying it. Written here from that description, in one fused, sync-free update.
"""

from __future__ import annotations

import torch

__all__ = ["sparse_sgd_step"]


@torch.no_grad()
def sparse_sgd_step(
    param: torch.Tensor, grad: torch.Tensor, buf: torch.Tensor, lr: float, momentum: float
) -> None:
    """One in-place lazy-momentum SGD step (no dampening, no Nesterov, no weight decay).

    Rows with an exactly-zero gradient keep their parameter and momentum. The buffer starts at zero, so
    the first visit sets it to a copy of the gradient (μ·0 + g = g), as torch's SGD does on its first step.

    Args:
        param: (N,) float, updated in place (pass ``tensor.data`` for a leaf that requires grad).
        grad: (N,) float gradient of the same shape.
        buf: (N,) float momentum buffer, updated in place.
        lr: learning rate.
        momentum: momentum factor μ.
    """
    active = grad != 0
    new_buf = momentum * buf + grad
    buf.copy_(torch.where(active, new_buf, buf))
    param.copy_(torch.where(active, param - lr * new_buf, param))
