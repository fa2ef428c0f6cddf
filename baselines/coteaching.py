"""Co-teaching: two networks that teach each other on their small-loss samples.

Paper: B. Han et al., "Co-teaching: Robust Training of Deep Neural Networks with Extremely Noisy Labels",
NeurIPS 2018, Algorithm 1. In each minibatch each network ranks the samples by its own CE loss and keeps
the R(T)·|B| smallest; network f is updated on the samples g kept and vice versa. Keep rate
R(T) = 1 − τ·min((T/T_k)^c, 1) with τ the forget rate (the noise rate when known), T_k = 10, c = 1.
Reference code: github.com/bhanML/Co-teaching (``loss.py``, ``main.py``), read for facts only (spec d.5).

Decisions and deviations:
* Number kept: ``int(R(T)·|B|)`` (floor), as the official ``loss.py``; at least one sample is kept.
* Ties in the ranking are broken by batch position (stable sort); the official code uses numpy's
  unstable argsort.
* Reduction: the engine averages ``per_sample`` over the batch, so per_sample[m]_i =
  ℓ_m,i·keep_peer_i·|B|/n_keep and the batch mean equals the mean over the peer's kept samples
  (``reduction="mean"``, default). The official ``loss.py`` divides that mean once more by n_keep
  (``reduction="official"``). Adam, the official optimiser, is almost invariant to that scale, but
  DiscrimBench trains every method with the dataset's recipe (often SGD), where the extra factor would
  shrink the step by ~1/|B|; hence the default.
* Schedule: ``schedule="paper"`` uses the formula above. The official code instead uses
  ``linspace(0, τ^c, T_k)`` over the first T_k epochs, i.e. forget = τ^c·T/(T_k − 1) (``"official"``).
* Forget rate: ``None`` or "nominal" is the cell's nominal noise rate (the official ``forget_rate =
  noise_rate``), else 0.2 when the rate is unknown (a common mid value); "realised" is the share of labels
  the noise actually changed, which differs from the nominal rate where the generator keeps some labels
  (permute-block: ≈ r(1 − 1/C), 0.9·r for 10 classes); a number fixes τ. Which one a run used, and its
  value, are recorded with the run (``resolved_values``: results.csv ``params``, MLflow tags).
* Classification only (the ranking is by CE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from benchmark.errors import HyperparameterError
from benchmark.method import LossMethod, MethodContext, MethodParams, StepLoss
from benchmark.registry import METHODS
from benchmark.space import Choice, Distribution, IntRange

__all__ = ["CoTeaching", "Params", "keep_rate"]

FORGET_RATE_SOURCES = ("nominal", "realised")
DEFAULT_FORGET_RATE = 0.2
"""Forget rate used when neither ``forget_rate`` nor the cell's noise rate is known."""


class Params(MethodParams):
    """Co-teaching hyperparameters; defaults are the paper's."""

    forget_rate: float | str | None = Field(
        None, description="τ in [0, 1), or 'nominal' (= None: the cell's noise rate, else 0.2) or 'realised'"
    )
    num_gradual: int = Field(10, ge=1, description="T_k: epochs over which the forget rate ramps up")
    exponent: float = Field(1.0, gt=0.0, description="c > 0 in R(T) = 1 − τ·min((T/T_k)^c, 1)")
    reduction: Literal["mean", "official"] = Field("mean", description="'official' divides again by n_keep")
    schedule: Literal["paper", "official"] = Field("paper", description="R(T) formula or official linspace")

    @field_validator("forget_rate")
    @classmethod
    def _forget_rate_valid(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str) and value not in FORGET_RATE_SOURCES:
            raise PydanticCustomError(
                "forget_rate", "Input should be a number in [0, 1), 'nominal' or 'realised'"
            )
        if isinstance(value, float) and value < 0.0:
            raise PydanticCustomError("greater_than_equal", "Input should be greater than or equal to 0")
        if isinstance(value, float) and value >= 1.0:
            raise PydanticCustomError("less_than", "Input should be less than 1")
        return value


def keep_rate(
    epoch: int, forget_rate: float, num_gradual: int, exponent: float, schedule: str = "paper"
) -> float:
    """R(T) for a 0-based epoch T.

    Args:
        epoch: T.
        forget_rate: τ.
        num_gradual: T_k.
        exponent: c.
        schedule: "paper" for 1 − τ·min((T/T_k)^c, 1); "official" for the official linspace ramp.
    """
    if schedule == "official":
        if epoch >= num_gradual:
            return 1.0 - forget_rate
        ramp = 0.0 if num_gradual == 1 else epoch / (num_gradual - 1)
        return 1.0 - float(forget_rate**exponent) * ramp
    return 1.0 - forget_rate * min(float((epoch / num_gradual) ** exponent), 1.0)


@METHODS.register(
    "coteaching", summary="Co-teaching (Han et al. 2018): two networks, peer small-loss selection"
)
class CoTeaching(LossMethod):
    """Two models; each is trained on the small-loss samples of the other."""

    name = "coteaching"
    Params = Params
    n_models = 2
    tasks = frozenset({"classification"})
    weight_kind = "fraction"

    def __init__(self, params: MethodParams, ctx: MethodContext) -> None:
        super().__init__(params, ctx)
        assert isinstance(params, Params)
        self.p: Params = params
        self.forget_rate, self.forget_rate_source = self._forget_rate(params.forget_rate, ctx)
        if not 0.0 <= self.forget_rate < 1.0:
            raise HyperparameterError(
                f"coteaching.forget_rate={params.forget_rate!r} takes the {self.forget_rate_source} rate "
                f"{self.forget_rate!r}, but the forget rate must satisfy 0 <= forget_rate < 1"
            )
        self.kept = torch.ones(ctx.n_train, device=ctx.device)

    @staticmethod
    def _forget_rate(value: float | str | None, ctx: MethodContext) -> tuple[float, str]:
        """τ and where it came from: "fixed", "nominal", "realised" or "default" (rate unknown)."""
        if isinstance(value, float | int):
            return float(value), "fixed"
        if value == "realised":
            if ctx.realised_noise_rate is None:
                raise HyperparameterError(
                    "coteaching.forget_rate='realised' needs the realised noise rate, "
                    "which this run does not know"
                )
            return ctx.realised_noise_rate, "realised"
        if ctx.noise_rate is None:
            return DEFAULT_FORGET_RATE, "default"
        return ctx.noise_rate, "nominal"

    def resolved_values(self) -> dict[str, Any]:
        """The forget rate τ used and its source (fixed, nominal, realised or default)."""
        return {"forget_rate_used": self.forget_rate, "forget_rate_source": self.forget_rate_source}

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        """``paper``: τ = noise rate, T_k = 10, c = 1; ``official``: also the official scale and ramp."""
        return {
            "paper": {"forget_rate": None, "num_gradual": 10, "exponent": 1.0},
            "official": {"reduction": "official", "schedule": "official"},
        }

    @classmethod
    def search_space(cls, ctx: MethodContext) -> dict[str, Distribution]:
        """T_k and c over the values of the paper's study of R(T).

        Han et al. 2018 (§4, "choice of R(T)") vary T_k ∈ {5, 10, 15} and c ∈ {0.5, 1, 2}; τ stays the
        noise rate (the paper's default), since tuning it on noisy validation labels is unreliable.
        """
        return {"num_gradual": IntRange(5, 15, 5), "exponent": Choice((0.5, 1.0, 2.0))}

    def weights_constant_by_design(self) -> bool:
        """With τ = 0 (a clean cell's default) every sample is kept: the record is all ones."""
        return self.forget_rate == 0.0

    def schedule_epochs(self) -> dict[str, float]:
        """R(T) reaches 1 − τ at T = T_k (the official linspace at T_k − 1)."""
        end = self.p.num_gradual - 1 if self.p.schedule == "official" else self.p.num_gradual
        return {"forget_ramp": float(end)}

    def keep_rate(self, epoch: int) -> float:
        """R(T) of this run."""
        return keep_rate(epoch, self.forget_rate, self.p.num_gradual, self.p.exponent, self.p.schedule)

    def n_keep(self, batch_size: int, epoch: int) -> int:
        """Samples kept per network: int(R(T)·|B|), at least 1 (host arithmetic, no device sync)."""
        return max(1, int(self.keep_rate(epoch) * batch_size))

    def loss(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int
    ) -> StepLoss:
        """(2, B): row m is network m's CE on the samples its peer kept, scaled so the mean is theirs."""
        losses = torch.stack([self.task_loss(out, targets) for out in outputs])  # (2, B)
        batch = losses.shape[1]
        n_keep = self.n_keep(batch, epoch)
        order = torch.argsort(losses.detach(), dim=1, stable=True)[:, :n_keep]
        keep = torch.zeros_like(losses, dtype=torch.bool).scatter_(1, order, True)  # keep[m]: m's choice
        peer_keep = keep.flip(0).to(losses.dtype)  # network 0 learns from 1's choice and vice versa
        scale = batch / n_keep
        if self.p.reduction == "official":
            scale /= n_keep
        per_sample = losses * peer_keep * scale
        self.kept[idx] = keep.to(self.kept.dtype).mean(dim=0)
        return StepLoss.unregularised(per_sample, losses.detach())

    def sample_weights(self) -> torch.Tensor:
        """Fraction of the two networks that kept each sample at its last visit (1 before any visit)."""
        return self.kept

    def state_dict(self) -> dict[str, Any]:
        """The selection record (the schedule is a pure function of the epoch)."""
        return {"kept": self.kept.clone(), "forget_rate": self.forget_rate}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.kept = state["kept"].to(self.ctx.device).clone()
        self.forget_rate = float(state["forget_rate"])
