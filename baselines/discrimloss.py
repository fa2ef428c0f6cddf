"""DiscrimLoss: a per-sample learnable temperature that separates hard clean samples from noisy ones.

Paper: T. Wu et al., "DiscrimLoss: A Universal Loss for Hard Samples and Incorrect Samples
Discrimination", IEEE TMM 2023 (arXiv 2208.09884). Main variant "EA + EMA-k + tanh γ + ES" (spec a.1-a.4,
a.6), written from the spec; reference code github.com/tangminji/DiscrimLoss @ dbee288,
``common/DiscrimLoss.py::DiscrimEA_EMAK_TANHLoss_newQ`` (L590-645) and ``optimizer/sparse_sgd.py``, read
for facts only (no licence). Per minibatch B at 0-based epoch e:

* m_i = β·ema_i + (1−β)·ℓ_i (gradient through ℓ_i only); ema_i ← m_i; L̂_i = m_i/(1 − β^(e+1)), β = 0.9.
* k ← mean_B L̂ on the first batch, else k ← ρ·k + (1−ρ)·mean_B L̂ (ρ = 0.9), updated before use.
* γ(e) = a·tanh(p·(e − q)) + a + 1 (the "new-q" form; :func:`q_from_old` converts UTKFace's old q).
* ES(e) early suppression (linear: (e+1)/10 while e < sup_eps, then 1 — note the jump; see
  :func:`early_suppression`); sup_eps = 0 disables it.
* d_i = ES(e)·(L̂_i − γ(e)·k)/σ_i with σ_i = exp(s_i), not detached; regulariser ½·wd·Σ_B s_i² (a batch
  sum, only when wd > 0).
* After the engine's backward and model step: lazy-momentum SGD on s (lr ``lr_inst_param``, momentum 0.9,
  rows with a zero gradient untouched), then all N entries clamped to [clamp_min, ln 20] (``clamp_space
  = "log"``, as the official code does: clamp_min is a bound on log σ) or σ ∈ [clamp_min, 20] (``"sigma"``).
  Done in O(batch): the step touches only the batch's rows (``_sparse_sgd.sparse_sgd_rows``), and all N
  entries are clamped once, at the first step (and after a load); rows outside the batch never move, so
  this equals clamping all N every step, bit for bit.

Ablations (each changes exactly what it names): ``k_mode`` "fixed" (k = ``k_value``, default ln C) or
"global-average" (k = running mean of the batch means of L̂); ``use_gamma=False`` (γ ≡ 1; the official
FIXK ablation combines it with fixed k); ``use_es=False`` (ES ≡ 1); ``use_loss_ema=False`` (L̂_i = ℓ_i,
so k follows the raw batch losses).

Decisions and deviations:
* k, the EMA and s are device tensors; the official code holds k as a Python float (one sync per batch).
* The `paper` preset is CIFAR-10 20-60 % configuration C and `cifar-a` configuration A (spec a.5), at the
  full precision of the official ``params/**/hy_best_params.json`` (``benchmark/presets/
  official-discrimloss-params.csv``), wd_inst_param included (~1e-33 and ~5e-77: no effect on float32
  training, but the official code adds the term whenever wd > 0, and so does this one). The Params
  defaults are configuration C too, q aside.
* ``q=None`` (the Params default) means round(0.5·epochs) (Python's half-to-even round), because γ's
  switch epoch only makes sense relative to the run's length; the `paper` preset sets q = 60.
* Per-sample state is created in torch's default dtype on ``ctx.device``.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator

from baselines._functional import as_dtype, bias_correction, scalar
from baselines._sparse_sgd import sparse_sgd_rows
from baselines._threshold import RunningThreshold, fixed_threshold
from benchmark.method import LossMethod, MethodContext, MethodParams, StepLoss
from benchmark.registry import METHODS
from benchmark.space import Distribution, FloatRange, IntRange

__all__ = ["LN_20", "DiscrimLoss", "Params", "early_suppression", "gamma", "q_from_old"]

LN_20 = math.log(20.0)
"""The upper clamp of log σ (σ ≤ 20), as in the official code."""
K_STATE = ("k", "k_started", "k_sum", "k_count")
"""The threshold's entries in :meth:`DiscrimLoss.state_dict`."""

EsType = Literal["linear", "piecewise", "sin", "exp"]


def gamma(epoch: int, a: float, p: float, q: float) -> float:
    """γ(e) = a·tanh(p·(e − q)) + a + 1: ≈1 early, ≈1 + 2a late, switching around epoch q."""
    return a * math.tanh(p * (epoch - q)) + a + 1.0


def q_from_old(q_old: float, p: float) -> float:
    """Convert the old form a·tanh(p·e + q_old) (UTKFace, q_old < 0) to the new q = −q_old/p."""
    return -q_old / p


def early_suppression(epoch: int, es_type: str, sup_eps: int) -> float:
    """ES(e) with E_s = ``sup_eps`` (spec a.2 step 5); 1 from epoch E_s on, so E_s = 0 disables it.

    linear (e+1)/10 (jumps from E_s/10 to 1), piecewise 0.2, sin sin((e+1)/E_s·π/2)·E_s/10,
    exp exp(e+1−E_s)·E_s/10 — each while e < E_s.
    """
    if epoch >= sup_eps:
        return 1.0
    if es_type == "linear":
        return (epoch + 1) / 10.0
    if es_type == "piecewise":
        return 0.2
    if es_type == "sin":
        return math.sin((epoch + 1) / sup_eps * math.pi / 2.0) * sup_eps / 10.0
    if es_type == "exp":
        return math.exp(epoch + 1 - sup_eps) * sup_eps / 10.0
    raise ValueError(f"unknown es_type {es_type!r}")


PAPER: dict[str, Any] = {
    "clamp_space": "log",
    "clamp_min": 0.07855390412654754,
    "lr_inst_param": 2.609431898226351,
    "sup_eps": 3,
    "es_type": "linear",
    "a": 0.2739100024784782,
    "p": 0.5441169600504865,
    "q": 60,
    "wd_inst_param": 4.700959910367085e-33,
    "k_mode": "ema",
}
"""CIFAR-10 configuration C (chosen at 20, 40 and 60 % noise), full precision."""

CIFAR_A: dict[str, Any] = {
    **PAPER,
    "clamp_min": 0.5610712995897812,
    "lr_inst_param": 0.08079318881173664,
    "sup_eps": 4,
    "a": 0.25328447720401703,
    "p": 1.9237901296528157,
    "q": 81,
    "wd_inst_param": 5.194121605858698e-77,
}
"""CIFAR configuration A (CIFAR-10 at 0 and 80 %, CIFAR-100 at 0 and 20 %), full precision."""


class Params(MethodParams):
    """DiscrimLoss hyperparameters. Defaults: CIFAR-10 20-60 % configuration C (spec a.5) at full precision,
    q = None."""

    clamp_space: Literal["log", "sigma"] = Field("log", description="clamp_min bounds log σ or σ")
    clamp_min: float = Field(
        PAPER["clamp_min"], description="lower clamp bound, < ln 20 (log) or in (0, 20) (sigma)"
    )
    lr_inst_param: float = Field(PAPER["lr_inst_param"], gt=0.0, description="SGD learning rate of s = log σ")
    inst_momentum: float = Field(0.9, ge=0.0, lt=1.0, description="lazy momentum of s")
    wd_inst_param: float = Field(
        PAPER["wd_inst_param"], ge=0.0, description="½·wd·Σ_B s² regulariser strength"
    )
    sup_eps: int = Field(3, ge=0, description="early-suppression epochs E_s (0 disables ES)")
    es_type: EsType = Field("linear", description="early-suppression schedule")
    a: float = Field(PAPER["a"], ge=0.0, description="γ amplitude a ≥ 0")
    p: float = Field(PAPER["p"], gt=0.0, description="γ sharpness p > 0")
    q: float | None = Field(None, description="γ switch epoch (new form); None → round(0.5·epochs)")
    beta: float = Field(0.9, ge=0.0, lt=1.0, description="per-sample loss EMA factor β")
    rho: float = Field(0.9, ge=0.0, lt=1.0, description="threshold EMA factor ρ")
    k_mode: Literal["ema", "fixed", "global-average"] = Field("ema", description="how k is obtained")
    k_value: float | None = Field(None, description="k for k_mode='fixed'; None → ln C")
    use_gamma: bool = Field(True, description="False: γ ≡ 1")
    use_es: bool = Field(True, description="False: ES ≡ 1")
    use_loss_ema: bool = Field(True, description="False: L̂_i = ℓ_i")

    @field_validator("clamp_min")
    @classmethod
    def _clamp_min_in_range(cls, value: float, info: ValidationInfo) -> float:
        space = info.data.get("clamp_space", "log")
        if space == "log" and not value < LN_20:
            raise ValueError(f"must satisfy clamp_min < ln 20 = {LN_20:.6g} with clamp_space='log'")
        if space == "sigma" and not 0.0 < value < 20.0:
            raise ValueError("must satisfy 0 < clamp_min < 20 with clamp_space='sigma'")
        return value


OFFICIAL_DATASETS = {
    "mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "digitsum": "DigitSum",
    "utkface": "UTKFACE", "clothing1m": "Clothing1m",
}  # fmt: skip
"""Registry name → dataset name in the official ``params/`` folders."""
OFFICIAL_TASK_LOSS = {"smooth_l1": "L1_loss", "mse": "L2_loss"}  # UTKFace's two params folders


@functools.cache
def _official_rows() -> tuple[dict[str, str], ...]:
    text = (resources.files("benchmark") / "presets" / "official-discrimloss-params.csv").read_text("utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def official_values(dataset: str, noise: str, rate: float, regression_loss: str) -> dict[str, Any] | None:
    """The official hyperopt choice for one cell (``benchmark/presets/official-discrimloss-params.csv``,
    from ``params/**/hy_best_params.json``), as Params values; None where the repository has none.

    The official noise is permute-block (Clothing1M: its real labels). Per dataset, as its main script
    uses them (spec a.1): UTKFace's q is in the old γ form (converted with :func:`q_from_old`); DigitSum
    uses a fixed k = 0.5 and searched no sup_eps (the default 3 applies).
    """
    name = OFFICIAL_DATASETS.get(dataset)
    if name is None or noise != ("real" if dataset == "clothing1m" else "permute-block"):
        return None
    task_loss = OFFICIAL_TASK_LOSS.get(regression_loss, "") if dataset == "utkface" else ""
    for row in _official_rows():
        same_rate = row["rate"] == "real" if dataset == "clothing1m" else _rate_equal(row["rate"], rate)
        if row["dataset"] == name and row["task_loss"] == task_loss and same_rate:
            values: dict[str, Any] = {**PAPER}
            for key in ("clamp_min", "lr_inst_param", "a", "p", "q", "wd_inst_param"):
                values[key] = float(row[key])
            values["sup_eps"] = int(row["sup_eps"]) if row["sup_eps"] else 3
            if dataset == "utkface":
                values["q"] = q_from_old(values["q"], values["p"])
            if dataset == "digitsum":
                values.update(k_mode="fixed", k_value=0.5)
            return values
    return None


def _rate_equal(text: str, rate: float) -> bool:
    try:
        return abs(float(text) - rate) < 1e-9
    except ValueError:
        return False


@METHODS.register(
    "discrimloss", summary="DiscrimLoss (Wu et al. 2023): EMA loss, EMA-k, tanh γ, ES, learnable σ"
)
class DiscrimLoss(LossMethod):
    """The main DiscrimLoss variant and its ablations."""

    name = "discrimloss"
    Params = Params
    weight_kind = "continuous"
    comparison_baseline = True  # the method the paper (and this benchmark) sets out to reproduce

    def __init__(self, params: MethodParams, ctx: MethodContext) -> None:
        super().__init__(params, ctx)
        assert isinstance(params, Params)
        self.p: Params = params
        self.q = params.q if params.q is not None else float(round(0.5 * ctx.epochs))
        self.k_value = fixed_threshold(
            params.k_value, params.k_mode, ctx,
            "discrimloss.k_value=None: k_mode 'fixed' on a regression task needs an explicit k_value",
        )  # fmt: skip
        low = params.clamp_min if params.clamp_space == "log" else math.log(params.clamp_min)
        self.clamp_bounds = (low, LN_20)
        device, n = ctx.device, ctx.n_train
        # One row of 16 bytes per sample: a step's random accesses to a sample's four values hit one
        # cache line instead of four (at N = 1e7 that is most of the difference to N = 1e3).
        self.state = torch.zeros(n, 4, device=device)
        self.exp_avg = self.state[:, 0]
        self.s = self.state[:, 1]  # log σ; each step's batch rows become a leaf of size B
        self.momentum = self.state[:, 2]
        self.grad_scratch = self.state[:, 3]  # sums duplicate rows; all zeros between steps
        # (idx, s[idx] leaf, momentum[idx], regulariser coefficient or None) of the last loss
        self.rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None
        self.clamped_all = False  # host flag: all N entries clamped once (the first step, after a load)
        self.threshold = RunningThreshold(
            params.k_mode, self.k_value, params.rho, per_sample=False, device=device
        )

    @property
    def k(self) -> torch.Tensor:
        """The current threshold k (device, float64)."""
        return self.threshold.value

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        """``paper`` (CIFAR-10 config C), the other CIFAR configuration A, and the four ablations."""
        return {
            "paper": dict(PAPER),
            "cifar-a": dict(CIFAR_A),
            "ablation-fixk": {**PAPER, "k_mode": "fixed", "use_gamma": False},
            "ablation-gak": {**PAPER, "k_mode": "global-average"},
            "ablation-no-es": {**PAPER, "use_es": False},
            "ablation-no-ema": {**PAPER, "use_loss_ema": False},
        }

    @classmethod
    def official_params(
        cls, dataset: str, noise: str, rate: float, regression_loss: str
    ) -> dict[str, Any] | None:
        """The official per-cell hyperopt choice (:func:`official_values`)."""
        return official_values(dataset, noise, rate, regression_loss)

    @classmethod
    def search_space(cls, ctx: MethodContext) -> dict[str, Distribution]:
        """The official MNIST hyperopt space (``@662694f:main_discrimloss_mnist_hy_box_style.py``, spec a.5).

        q there is quniform[2, 18] for 20 epochs; here it is an integer in [round(0.1·E), round(0.9·E)],
        which equals [2, 18] at E = 20.
        """
        epochs = ctx.epochs
        return {
            "lr_inst_param": FloatRange(0.05, 10.0, log=True),
            "wd_inst_param": FloatRange(1e-100, 0.1, log=True),
            "sup_eps": IntRange(2, 5),
            "a": FloatRange(0.1, 0.5),
            "p": FloatRange(0.5, 2.0),
            "q": IntRange(round(0.1 * epochs), round(0.9 * epochs)),
            "clamp_min": FloatRange(0.05, 0.7),
        }

    # ---- schedules ---------------------------------------------------------------------------------

    def schedule_epochs(self) -> dict[str, float]:
        """ES ends at E_s; γ has made 95 % of its switch at q + atanh(0.9)/p (tanh(p·(e − q)) = 0.9)."""
        out: dict[str, float] = {}
        if self.p.use_es and self.p.sup_eps > 0:
            out["early_suppression"] = float(self.p.sup_eps)
        if self.p.use_gamma and self.p.a > 0:
            out["gamma_switch"] = self.q + math.atanh(0.9) / self.p.p
        return out

    def gamma(self, epoch: int) -> float:
        """γ(e) of this run (1 when ``use_gamma`` is off)."""
        return gamma(epoch, self.p.a, self.p.p, self.q) if self.p.use_gamma else 1.0

    def es(self, epoch: int) -> float:
        """ES(e) of this run (1 when ``use_es`` is off)."""
        return early_suppression(epoch, self.p.es_type, self.p.sup_eps) if self.p.use_es else 1.0

    # ---- hooks -------------------------------------------------------------------------------------

    def loss(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int
    ) -> StepLoss:
        """(1, B) d_i = ES(e)·(L̂_i − γ(e)·k)/σ_i, plus ½·wd·Σ_B s_i² as the regulariser.

        Constants enter as :func:`~baselines._functional.scalar` tensors, and a factor that is exactly 1
        (ES after E_s, γ without ``use_gamma``) is left out: the same bits (x·1 = x, and so is its
        gradient) with two tensor operations fewer.
        """
        ell = self.task_loss(outputs[0], targets)
        dt = ell.dtype
        exp_avg, s, momentum, _ = self.state.index_select(0, idx).unbind(1)  # the batch's rows, once
        if self.p.use_loss_ema:
            beta = self.p.beta
            m = scalar(beta, dt) * as_dtype(exp_avg, dt) + scalar(1.0 - beta, dt) * ell
            self.exp_avg.index_copy_(0, idx, as_dtype(m.detach(), self.exp_avg.dtype))
            l_hat = m / scalar(bias_correction(beta, epoch), dt)
        else:
            l_hat = ell
        k = self.threshold.update(l_hat.detach()).to(dt)
        s_b = s.requires_grad_()  # a fresh leaf of size B: backward touches B entries, not N
        gamma_e, es_e = self.gamma(epoch), self.es(epoch)
        centred = l_hat - (k if gamma_e == 1.0 else scalar(gamma_e, dt) * k)
        if es_e != 1.0:
            centred = scalar(es_e, dt) * centred
        d = centred * as_dtype(torch.exp(-s_b), dt)
        self.rows = (idx, s_b, momentum, None)
        if self.p.wd_inst_param == 0:
            return StepLoss.one_model(d, ell.detach())
        coef = scalar(0.5 * self.p.wd_inst_param, dt)
        if isinstance(coef, torch.Tensor):  # its gradient enters in after_step, as autograd would form it
            self.rows = (idx, s_b, momentum, as_dtype(coef, s_b.dtype))
            s_b = s_b.detach()
        # (a half-precision loss gets a Python coefficient and autograd forms the gradient)
        return StepLoss.one_model(d, ell.detach(), coef * as_dtype((s_b**2).sum(), dt))

    @torch.no_grad()
    def after_step(self) -> None:
        """Lazy-momentum SGD on the batch's rows of s and their clamp (all N entries at the first step).

        The regulariser's gradient c·2s (c = ½·wd) is added here to the gradient of d: the same bits as
        back-propagating c·Σ s² (c·2s rounded once, then added to d's gradient), four autograd nodes fewer.
        """
        rows, self.rows = self.rows, None
        grad = None if rows is None else rows[1].grad
        if rows is None or grad is None:
            return
        idx, s_b, momentum, coef = rows
        s_b = s_b.detach()
        if coef is not None:
            grad = grad + coef * (s_b + s_b)
        sparse_sgd_rows(
            self.s, self.momentum, idx, grad, self.p.lr_inst_param, self.p.inst_momentum,
            None if self.ctx.distinct_rows else self.grad_scratch, self.clamp_bounds,
            current=(s_b, momentum),
        )  # fmt: skip
        if not self.clamped_all:  # rows outside every later batch never move: one full clamp suffices
            self.s.clamp_(*self.clamp_bounds)
            self.clamped_all = True

    def sample_weights(self) -> torch.Tensor:
        """1/σ per sample (1 before training, since σ starts at 1)."""
        return torch.exp(-self.s.detach())

    def state_dict(self) -> dict[str, Any]:
        """Loss EMA, s, its momentum, k and the k statistics."""
        return {
            "exp_avg": self.exp_avg.clone(),
            "s": self.s.detach().clone(),
            "momentum": self.momentum.clone(),
            **self.threshold.state_dict(K_STATE),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict`; the next step clamps all N entries again."""
        self.exp_avg.copy_(state["exp_avg"])
        self.s.copy_(state["s"])
        self.momentum.copy_(state["momentum"])
        self.rows, self.clamped_all = None, False
        self.threshold.load_state_dict(state, K_STATE)
