"""SuperLoss: a task-agnostic confidence-weighted loss with a closed-form per-sample confidence.

Paper: T. Castells, P. Weinzaepfel and J. Revaud, "SuperLoss: A Generic Loss for Robust Curriculum
Learning", NeurIPS 2020. L_i = (ℓ_i − τ)·σ_i + λ·(ln σ_i)², minimised in closed form by
σ*_i = exp(−W₀(½·max(−2/e, (ℓ_i − τ)/λ))) (eqs. 4-5; spec d.2). σ* is computed from the detached ℓ_i,
so the gradient is σ*_i·∂ℓ_i (envelope theorem); σ* ∈ (0, e].
Reference code: github.com/tangminji/DiscrimLoss @ dbee288, ``common/SuperLoss.py`` L8-31 (a copy of
github.com/AlanChou/Super-Loss, with τ passed in), read for facts only. τ alternatives (EMA with α = 0.9
started from the first batch mean, global average) follow the FastEstimator SuperLoss docstring.

τ modes (``tau_mode``):
* ``fixed``: τ = ``tau``; default ln C for classification (regression needs an explicit value).
* ``ema``: τ ← α·τ + (1−α)·mean_B ℓ, started from the first batch mean, updated before use.
* ``global-average``: the running mean of every per-sample loss seen so far, updated before use.

λ's units (``lam_units``): λ has the units of ℓ, since σ* depends on (ℓ − τ)/λ only. ``loss`` (default)
takes λ as given, as DiscrimLoss's classification runs do (cross-entropy of order 1). ``target`` reads λ
as λ₀ for a loss of targets of order 1 and uses λ₀·s² on MSE, λ₀·s on smooth-L1 (linear beyond δ = 1),
with s the dataset's ``target_scale`` (90 on DigitSum); on classification it changes nothing. On
DigitSum's raw-sum MSE, λ = 1 makes σ* all-or-nothing and the model's output dies in the first epoch
(docs/recipes.md §5); no official SuperLoss regression setting exists to follow, so the conversion is
offered, not the default.

Deviations: W₀ is computed in torch (Halley steps, see ``_functional.lambertw0``) instead of scipy on the
CPU, so there is no host copy per batch; it is at least as accurate as scipy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from pydantic import Field

from baselines._functional import superloss_sigma
from baselines._threshold import RunningThreshold, ThresholdMode, fixed_threshold
from benchmark.method import LossMethod, MethodContext, MethodParams, StepLoss
from benchmark.registry import METHODS
from benchmark.space import Distribution, FloatRange

__all__ = ["Params", "SuperLoss", "loss_unit"]

TAU_STATE = ("tau", "tau_started", "loss_sum", "loss_count")
"""The threshold's entries in :meth:`SuperLoss.state_dict`."""


class Params(MethodParams):
    """SuperLoss hyperparameters; defaults are those of DiscrimLoss's CIFAR-10 SuperLoss runs."""

    tau_mode: ThresholdMode = Field("fixed", description="how τ is obtained: fixed, ema or global-average")
    tau: float | None = Field(None, description="fixed τ; None means ln C (classification only)")
    lam: float = Field(1.0, gt=0.0, description="regularisation strength λ > 0")
    ema_alpha: float = Field(0.9, ge=0.0, lt=1.0, description="EMA factor α of τ in [0, 1)")
    lam_units: Literal["loss", "target"] = Field(
        "loss",
        description="λ as given (loss), or λ₀ scaled by the target scale to the task loss's units (target)",
    )


def loss_unit(ctx: MethodContext) -> float:
    """What one unit of a loss on targets of order 1 is in the task loss's units: s² for MSE, s for
    smooth-L1, 1 for classification (s: the dataset's ``target_scale``)."""
    if ctx.task != "regression":
        return 1.0
    return ctx.target_scale**2 if ctx.regression_loss == "mse" else ctx.target_scale


@METHODS.register("superloss", summary="SuperLoss (Castells et al. 2020), closed-form σ* via Lambert W")
class SuperLoss(LossMethod):
    """Confidence-weighted loss with σ* recomputed for every sample at every step."""

    name = "superloss"
    Params = Params
    weight_kind = "continuous"

    def __init__(self, params: MethodParams, ctx: MethodContext) -> None:
        super().__init__(params, ctx)
        assert isinstance(params, Params)
        self.p: Params = params
        self.fixed_tau = fixed_threshold(
            params.tau, params.tau_mode, ctx,
            "superloss.tau=None: regression needs an explicit tau "
            "(a float) or tau_mode 'ema' / 'global-average'",
        )  # fmt: skip
        self.lam = params.lam * (loss_unit(ctx) if params.lam_units == "target" else 1.0)
        self.sigma = torch.ones(ctx.n_train, device=ctx.device)
        self.threshold = RunningThreshold(
            params.tau_mode, self.fixed_tau, params.ema_alpha, per_sample=True, device=ctx.device
        )

    @property
    def tau(self) -> torch.Tensor:
        """The current τ (device, float64)."""
        return self.threshold.value

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        """Settings of DiscrimLoss's SuperLoss runs (spec d.2)."""
        return {
            "paper": {"tau_mode": "fixed", "tau": None, "lam": 1.0},  # CIFAR-10: τ = ln 10, λ = 1
            "cifar100": {"tau_mode": "fixed", "tau": None, "lam": 0.25},  # τ = ln 100, λ = 0.25
            "mnist": {"tau_mode": "fixed", "tau": 0.5, "lam": 1.0},  # τ = 0.5, λ = 1
            "ema": {"tau_mode": "ema", "lam": 1.0},
            "regression": {"tau_mode": "ema", "lam": 1.0, "lam_units": "target"},  # a DiscrimBench mapping
        }

    @classmethod
    def search_space(cls, ctx: MethodContext) -> dict[str, Distribution]:
        """λ log-uniform on [0.1, 10].

        DiscrimLoss's runs use λ ∈ {0.25, 0.75, 1} (spec d.2) and do not publish a search range; the
        interval is a DiscrimBench choice that contains those values.
        """
        return {"lam": FloatRange(0.1, 10.0, log=True)}

    def loss(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int
    ) -> StepLoss:
        """(1, B) (ℓ−τ)·σ* + λ·(ln σ*)² with σ* from the detached ℓ."""
        ell = self.task_loss(outputs[0], targets)
        detached = ell.detach()
        tau = self.threshold.update(detached).to(ell.dtype)
        sigma = superloss_sigma(detached - tau, self.lam)
        self.sigma[idx] = sigma.to(self.sigma.dtype)
        per_sample = (ell - tau) * sigma + self.lam * torch.log(sigma) ** 2
        return StepLoss.one_model(per_sample, detached)

    def sample_weights(self) -> torch.Tensor:
        """The last σ* seen for each sample (1 before its first visit)."""
        return self.sigma

    def state_dict(self) -> dict[str, Any]:
        """σ* per sample and the τ statistic."""
        return {"sigma": self.sigma.clone(), **self.threshold.state_dict(TAU_STATE)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.sigma = state["sigma"].to(self.ctx.device).clone()
        self.threshold.load_state_dict(state, TAU_STATE)
