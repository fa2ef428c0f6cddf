"""What one epoch's training steps saw, kept as the steps' own tensors and reduced a chunk at a time.

Why: the engine's per-sample bookkeeping (the predicted class of each sample in its step, for the
memorisation metrics; its task loss, for the loss-area hardness; the running objective, for
``train/loss``) cost an argmax, an index write, an index_add and an add per step: about 50 µs of a
530 µs digits-MLP step at batch 32 on one CPU thread (issue 16), and four kernel launches per step on a
GPU. Appending the step's tensors to lists costs a few list appends; a concatenation, one argmax, one index
write and one index_add per chunk of steps then do the same work in large operations.

The results are the same bits as the per-step operations: the argmax sees the same logits, the losses
are added into zeros of their own dtype with ``index_add_`` in step order (duplicate indices included),
and the objectives are summed in step order in float32 (float64 objectives in float64). Logits are
flushed once a chunk holds ``flush_elements`` values, so the memory held is bounded whatever the size of
the training set.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["EpochRecord", "sum_in_order"]

FLUSH_ELEMENTS = 1 << 22  # 16 MiB of float32 logits and losses held at most between flushes


class EpochRecord:
    """One epoch of step records; :meth:`close` writes them and returns the mean objective.

    Args:
        predictions: (n_train,) long tensor that receives each recorded sample's predicted class, or
            None when no logits are recorded.
        loss_area: (n_train,) float64 running Σ over epochs of each sample's task loss; this epoch's
            losses are added to it on :meth:`close`.
        flush_elements: logits and loss values held before they are written.
    """

    def __init__(
        self,
        predictions: torch.Tensor | None,
        loss_area: torch.Tensor,
        flush_elements: int = FLUSH_ELEMENTS,
    ) -> None:
        self.predictions, self.loss_area, self.flush_elements = predictions, loss_area, flush_elements
        self._idx: list[torch.Tensor] = []
        self._logits: list[torch.Tensor] = []
        self._losses: list[torch.Tensor] = []
        self._objectives: list[torch.Tensor] = []
        self._held = 0
        self._area: torch.Tensor | None = None  # this epoch's losses, in their own dtype

    def add(
        self, idx: torch.Tensor, logits: torch.Tensor, task_loss: torch.Tensor, objective: torch.Tensor
    ) -> None:
        """Record one step: its sample indices (B,), model 0's logits (B, C) (kept only when
        ``predictions`` is set), the task losses (n_models, B) and the objective (); detached views are
        kept, so no step's autograd graph outlives its backward pass."""
        self._idx.append(idx)
        self._losses.append(task_loss.detach())
        self._objectives.append(objective.detach())
        self._held += task_loss.numel()
        if self.predictions is not None:
            self._logits.append(logits.detach())
            self._held += logits.numel()
        if self._held >= self.flush_elements:
            self._flush()

    def _flush(self) -> None:
        if not self._idx:
            return
        idx = torch.cat(self._idx)
        if self.predictions is not None:
            self.predictions[idx] = torch.cat(self._logits).argmax(dim=1)
        seen = torch.cat(self._losses, dim=1)[0]
        if self._area is None:
            self._area = torch.zeros(len(self.loss_area), dtype=seen.dtype, device=seen.device)
        self._area.index_add_(0, idx, seen)
        self._idx, self._logits, self._losses, self._held = [], [], [], 0

    def close(self) -> float:
        """Write what is held, add the epoch's losses to the running area (in float64, once) and return
        the mean objective over the recorded steps (0.0 when none was recorded)."""
        self._flush()
        if self._area is not None:
            self.loss_area += self._area.to(torch.float64)
            self._area = None
        if not self._objectives:
            return 0.0
        total = sum_in_order(torch.stack(self._objectives))
        n, self._objectives = len(self._objectives), []
        return total / n


def sum_in_order(values: torch.Tensor) -> float:
    """Σ of a 1-D tensor, added left to right in float32, or float64 for float64 values (one host read).

    The same bits as adding each value in turn to a running float32 (float64) total on the device, as
    the engine did per step; half-precision values are summed in float32, as such a total holds them.
    ``torch.sum`` adds pairwise and ``torch.cumsum`` accumulates in double on a CPU, so neither is used.
    """
    array = values.detach().to("cpu", torch.promote_types(values.dtype, torch.float32)).numpy()
    return float(np.add.accumulate(array)[-1]) if len(array) else 0.0
