"""Generalised cross-entropy L_q and its truncated form.

Paper: Z. Zhang and M. R. Sabuncu, "Generalized Cross Entropy Loss for Training Deep Neural Networks with
Noisy Labels", NeurIPS 2018. L_q(f(x), y) = (1 − f_y(x)^q)/q (eq. 6), q ∈ (0, 1]: q → 0 gives CE, q = 1
gives MAE (1 − p_y). Truncated L_q (eq. 9): L_q(k) if f_y ≤ k else L_q(f_y), k = 0.5, optimised by
alternating "pruning" (Alg. 1): per-sample weights w_i ∈ {0, 1}, w_i = 1 iff L_q(f_y) < L_q(k), recomputed
from epoch 40 every 10 epochs; the loss is w_i·(L_q(f_y) − L_q(k)). Spec d.4.
Reference code: not part of the DiscrimLoss repository; the schedule (start 40, period 10) follows the
unofficial github.com/AlanChou/Truncated-Loss README (read for facts only, no licence).

Deviations:
* Pruning uses the *current* model (``predict_train`` at the start of the scheduled epoch). The paper
  allows the current or the best model; AlanChou picks the best-*test*-epoch model, which would leak the
  test set.
* Before the first pruning the truncated variant trains on plain L_q (all w_i = 1); from the first pruning
  on it uses w_i·(L_q − L_q(k)). The constant L_q(k) changes the reported loss value, not the gradient.
* Classification only (p_y needs a class distribution).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from baselines._base import Distribution, FloatRange, LossMethod, MethodContext, MethodParams, StepLoss
from baselines._functional import gce_lq
from benchmark.registry import METHODS

__all__ = ["GCE", "Params"]


class Params(MethodParams):
    """GCE hyperparameters; defaults are the paper's."""

    q: float = Field(0.7, gt=0.0, le=1.0, description="exponent q ∈ (0, 1] (0 → CE, 1 → MAE)")
    truncated: bool = Field(False, description="use the truncated L_q with pruning")
    k: float = Field(0.5, gt=0.0, lt=1.0, description="truncation threshold on p_y, in (0, 1)")
    prune_start: int = Field(40, ge=0, description="first pruning epoch (0-based)")
    prune_every: int = Field(10, ge=1, description="pruning period in epochs")


@METHODS.register("gce", summary="generalised cross-entropy L_q (optionally truncated, with pruning)")
class GCE(LossMethod):
    """L_q per sample; with ``truncated``, the pruned truncated L_q."""

    name = "gce"
    Params = Params
    tasks = frozenset({"classification"})

    def __init__(self, params: MethodParams, ctx: MethodContext) -> None:
        super().__init__(params, ctx)
        assert isinstance(params, Params)
        self.p: Params = params
        self.lq_k = (1.0 - params.k**params.q) / params.q
        self.weights = torch.ones(ctx.n_train, device=ctx.device)
        self.pruned = False  # host flag: whether a pruning has happened yet (no device sync)

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        """``paper``: GCE with q = 0.7; ``truncated``: truncated L_q with k = 0.5 and the 40/10 schedule."""
        return {"paper": {"q": 0.7, "truncated": False}, "truncated": {"q": 0.7, "truncated": True}}

    @classmethod
    def search_space(cls, ctx: MethodContext) -> dict[str, Distribution]:
        """q over (0, 1].

        Zhang & Sabuncu report q = 0.7 (and k = 0.5) for all CIFAR/Fashion-MNIST runs, without a search
        range; [0.1, 1.0] is a DiscrimBench choice that contains it and both limits (near-CE, MAE).
        """
        return {"q": FloatRange(0.1, 1.0)}

    def weights_constant_by_design(self) -> bool:
        """Untruncated GCE keeps its all-ones mask: no per-sample weighting to evaluate."""
        return not self.p.truncated

    def schedule_epochs(self) -> dict[str, float]:
        """The truncated L_q's first pruning (at the start of epoch ``prune_start``); none without."""
        return {"first_pruning": float(self.p.prune_start)} if self.p.truncated else {}

    def is_pruning_epoch(self, epoch: int) -> bool:
        """Whether the truncation weights are recomputed at the start of ``epoch``."""
        return (
            self.p.truncated
            and epoch >= self.p.prune_start
            and (epoch - self.p.prune_start) % self.p.prune_every == 0
        )

    def _lq(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p_y = F.log_softmax(logits, dim=1).gather(1, targets.view(-1, 1)).squeeze(1)
        return gce_lq(log_p_y, self.p.q)

    def on_epoch_start(
        self, epoch: int, predict_train: Callable[[], tuple[Sequence[torch.Tensor], torch.Tensor]]
    ) -> None:
        """Prune at the scheduled epochs: w_i = 1 iff L_q(p_y) < L_q(k) under the current model."""
        if not self.is_pruning_epoch(epoch):
            return
        with torch.no_grad():
            outputs, targets = predict_train()
            lq = self._lq(outputs[0], targets.to(outputs[0].device))
            self.weights = (lq < self.lq_k).to(self.weights.dtype).to(self.ctx.device)
        self.pruned = True

    def loss(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int
    ) -> StepLoss:
        """(1, B) L_q, or w_i·(L_q − L_q(k)) once pruning has started."""
        logits = outputs[0]
        lq = self._lq(logits, targets)
        per_sample = self.weights[idx].to(lq.dtype) * (lq - self.lq_k) if self.pruned else lq
        return StepLoss(
            per_sample=per_sample.unsqueeze(0),
            regulariser=torch.zeros((), dtype=lq.dtype, device=lq.device),
            task_loss=F.cross_entropy(logits.detach(), targets, reduction="none").unsqueeze(0),
        )

    def sample_weights(self) -> torch.Tensor:
        """The truncation mask w (all ones before the first pruning, and for untruncated GCE)."""
        return self.weights

    def state_dict(self) -> dict[str, Any]:
        """Truncation weights and whether pruning has started."""
        return {"weights": self.weights.clone(), "pruned": self.pruned}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.weights = state["weights"].to(self.ctx.device).clone()
        self.pruned = bool(state["pruned"])
