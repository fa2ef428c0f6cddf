"""Plain empirical risk: softmax cross-entropy, or MSE / smooth-L1 (δ=1) for regression.

Paper: the "no_cl" / "base" baseline of DiscrimLoss (Wu et al., IEEE TMM 2023, spec d.1): same model,
optimiser, schedule, epochs and noise as every other method, and the unreduced task loss as it is.
Reference code: github.com/tangminji/DiscrimLoss @ dbee288 (``@662694f:main_nocl_mnist.py``), read for
facts only. The regression loss comes from ``MethodContext.regression_loss``; "smooth_l1" is what the
official code calls "L1" (Huber with δ=1, not plain L1).

Deviations: none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from benchmark.method import LossMethod, MethodParams, StepLoss
from benchmark.registry import METHODS

__all__ = ["CE", "Params"]


class Params(MethodParams):
    """CE has no hyperparameters of its own."""


@METHODS.register("ce", summary="softmax cross-entropy (MSE / smooth-L1 for regression)")
class CE(LossMethod):
    """Unweighted task loss per sample."""

    name = "ce"
    Params = Params
    hardness_reference = True
    comparison_baseline = True  # the plain loss every robust method must beat

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        """Only ``paper``: there is nothing to choose."""
        return {"paper": {}}

    def loss(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int
    ) -> StepLoss:
        """(1, B) task loss, its mean from the fused kernel (per_sample detached); no regulariser."""
        ell, mean = self.task_loss_and_mean(outputs[0], targets)
        return StepLoss.one_model(ell, ell, batch_mean=mean)
