"""The public method API: the contract between the training engine and a loss method.

Built-in methods (``baselines/``) and third-party plugins use exactly this module (plus
:mod:`benchmark.space` for search spaces and :mod:`benchmark.registry` to register).

The engine owns the loop, the data, the model optimisers and schedules, and evaluation. A method owns its
loss, its extra state (per-sample tensors, EMA buffers) and any extra optimiser (DiscrimLoss's sparse SGD on
log σ). The engine never branches on a method's name: differences are class attributes (``n_models``,
``tasks``, ``weight_kind``, ``hardness_reference``) and hooks with do-nothing defaults.

Per training step the engine does::

    outputs = [model(x) for model in models]            # len == method.n_models
    step = method.loss(outputs, y_noisy, idx, epoch)    # StepLoss
    objective = step.objective()    # per_sample.mean(dim=1).sum() + regulariser
    objective.backward(); [opt.step() for opt in model_optimisers]
    method.after_step()                                 # the method's own optimiser, clamping, ...

A method never receives clean labels.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, ValidationError

from benchmark.errors import HyperparameterError, did_you_mean
from benchmark.space import Distribution

__all__ = [
    "LossMethod",
    "MethodContext",
    "MethodParams",
    "RegressionLoss",
    "StepLoss",
    "Task",
    "TrainPredictor",
    "WeightKind",
    "task_loss",
    "task_loss_and_mean",
]

Task = Literal["classification", "regression"]
RegressionLoss = Literal["mse", "smooth_l1"]
WeightKind = Literal["continuous", "binary", "fraction"]
"""What a method's per-sample weights are: a real-valued trust (DiscrimLoss's 1/σ, SuperLoss's σ*), a 0/1
mask (truncated GCE) or the share of networks that kept a sample (Co-teaching)."""


@dataclass(frozen=True)
class MethodContext:
    """What a method may know about the run it is part of.

    Attributes:
        task: classification or regression.
        num_classes: number of classes (None for regression).
        n_train: number of training samples; per-sample state has this length, indexed by ``idx``.
        epochs: planned number of epochs (schedules such as γ(e) or R(T) may depend on it).
        device: where per-sample state lives.
        noise_rate: the cell's nominal noise rate when known (Co-teaching's default forget rate).
        realised_noise_rate: the share of training-pool labels the noise actually changed, when known
            (a benchmark-side fact no practitioner has; only methods told to use it read it).
        regression_loss: the task loss for regression ("mse", or "smooth_l1" which the official
            DiscrimLoss code calls "L1").
        target_scale: the regression targets' typical size, the unit the task loss is measured in
            (the dataset's own; 1 for classification and for targets of order 1). A method whose constants
            are in loss units may convert them with it, as SuperLoss's ``lam_units: target`` does.
        distinct_rows: every step's ``idx`` holds distinct sample indices. The engine's batches are slices
            of one epoch permutation, so it sets this; a method may then skip summing the gradients of
            repeated rows (three tensor operations of DiscrimLoss's step). False by default: a method
            must handle repeated indices as a dense per-sample tensor would.
    """

    task: Task
    num_classes: int | None
    n_train: int
    epochs: int
    device: torch.device = torch.device("cpu")  # noqa: RUF009 (immutable)
    noise_rate: float | None = None
    regression_loss: RegressionLoss = "mse"
    realised_noise_rate: float | None = None
    target_scale: float = 1.0
    distinct_rows: bool = False


class TrainPredictor(Protocol):
    """What ``on_epoch_start`` receives: predictions on the whole training set, in index order."""

    def __call__(
        self, *, augmented: bool = False, checkpoint: Literal["current", "best"] = "current"
    ) -> tuple[Sequence[torch.Tensor], torch.Tensor]:
        """(outputs per model, noisy targets), without gradient, models in eval mode.

        Args:
            augmented: apply the training augmentation (as iterating a training loader does); a no-op
                where the recipe has none. Draws from the run's order stream.
            checkpoint: "current" models, or the models of the best epoch so far by the run's selection
                split (the current ones before any epoch was evaluated, or when the caller selects none).
                "best" works only for a method whose ``keeps_best_checkpoint`` is True.
        """
        ...


@dataclass
class StepLoss:
    """A method's loss for one minibatch.

    Attributes:
        per_sample: (n_models, B) float; the engine takes the mean over the batch and sums models.
        regulariser: () float, added to the objective as it is (e.g. ½·wd·Σ_B s_i² of DiscrimLoss).
        task_loss: (n_models, B) float, the plain task loss (detached), for logging.
        regularised: False when ``regulariser`` is a placeholder zero left out of the objective.
        batch_mean: () the batch mean of ``per_sample`` (one model), when the method has it already: from a
            fused kernel (cross-entropy's "mean" reduction) or from its (B,) tensor without the (1, B) view.
            The engine back-propagates it instead of averaging ``per_sample``, which may then be detached.
            It must equal that average up to rounding (the method contract tests hold every method to it).
    """

    per_sample: torch.Tensor
    regulariser: torch.Tensor
    task_loss: torch.Tensor

    regularised: bool = True
    batch_mean: torch.Tensor | None = None

    @classmethod
    def unregularised(cls, per_sample: torch.Tensor, task_loss: torch.Tensor) -> StepLoss:
        """A step loss whose regulariser is a zero of ``per_sample``'s dtype and device, left out of the
        objective (no allocation and no autograd node per step)."""
        zero = _zero(per_sample.dtype, per_sample.device)
        return cls(per_sample=per_sample, regulariser=zero, task_loss=task_loss, regularised=False)

    @classmethod
    def one_model(
        cls,
        per_sample: torch.Tensor,
        task_loss: torch.Tensor,
        regulariser: torch.Tensor | None = None,
        batch_mean: torch.Tensor | None = None,
    ) -> StepLoss:
        """The step of a one-model method from (B,) tensors (``regulariser`` None: unregularised).

        The objective averages ``per_sample`` as it is, so the (1, B) views the fields hold stay out of the
        backward pass (a view node less per step: about 8 µs of a digits-MLP step on a CPU thread), unless
        the method passes the ``batch_mean`` it computed fused.
        """
        mean = per_sample.mean() if batch_mean is None else batch_mean
        row = per_sample.unsqueeze(0)
        task_row = row if task_loss is per_sample else task_loss.unsqueeze(0)
        if regulariser is None:
            zero = _zero(per_sample.dtype, per_sample.device)
            return cls(row, zero, task_row, regularised=False, batch_mean=mean)
        return cls(row, regulariser, task_row, batch_mean=mean)

    def objective(self) -> torch.Tensor:
        """The scalar the engine back-propagates.

        With one model, the plain mean: the same value as mean(dim=1).sum(), with two autograd nodes
        fewer (measured: 10 % of a digits-MLP step at batch 32 on one CPU thread); adding an
        unregularised step's zero would change no bit, so it is not added.
        """
        if self.batch_mean is not None:
            total = self.batch_mean
        elif self.per_sample.shape[0] == 1:
            total = self.per_sample.mean()
        else:
            total = self.per_sample.mean(dim=1).sum()
        return total + self.regulariser if self.regularised else total


@functools.cache
def _zero(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """One shared read-only zero per dtype and device (``StepLoss.unregularised``)."""
    return torch.zeros((), dtype=dtype, device=device)


class MethodParams(BaseModel):
    """Base of every method's hyperparameter model: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _format_validation_error(method: str, exc: ValidationError, fields: Iterable[str] = ()) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(params)"
        got = err.get("input")
        if err["type"] == "extra_forbidden":
            parts.append(f"{method}.{loc} is not a hyperparameter of {method}{did_you_mean(loc, fields)}")
        else:
            parts.append(f"{method}.{loc}={got!r}: {err['msg']}")
    return "; ".join(parts)


def task_loss(
    output: torch.Tensor, targets: torch.Tensor, task: str, regression_loss: str = "mse"
) -> torch.Tensor:
    """Unreduced task loss, as the official DiscrimLoss code computes it (spec a.2 step 1).

    Args:
        output: (B, C) logits, or (B,) / (B, 1) regression outputs.
        targets: (B,) int64 classes, or (B,) regression targets (cast to the output's dtype).
        task: "classification" or "regression".
        regression_loss: "mse", or "smooth_l1" (Huber with δ=1, which the official code calls "L1").

    Returns:
        (B,) per-sample loss, differentiable w.r.t. ``output``.

    Raises:
        ValueError: on an unknown task or regression loss (a programming error: the context is validated).
    """
    if task == "classification":
        return F.cross_entropy(output, targets, reduction="none")
    if task != "regression":
        raise ValueError(f"unknown task {task!r}")
    if output.dim() == 2 and output.shape[-1] == 1:
        output = output.squeeze(-1)
    targets = targets.to(output.dtype)
    if regression_loss == "mse":
        return F.mse_loss(output, targets, reduction="none")
    if regression_loss == "smooth_l1":
        return F.smooth_l1_loss(output, targets, reduction="none", beta=1.0)
    raise ValueError(f"unknown regression loss {regression_loss!r} (allowed: 'mse', 'smooth_l1')")


def task_loss_and_mean(
    output: torch.Tensor, targets: torch.Tensor, task: str, regression_loss: str = "mse"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-sample task loss (B,), detached, and its batch mean (), differentiable: for a method whose
    objective is that plain mean (CE).

    Classification takes the mean from cross-entropy's fused "mean" reduction and the per-sample values
    from the same log-probabilities: the gradient is the same bits as averaging the per-sample loss (the
    tests hold it to that), with a mean node less in the backward pass. Regression averages
    :func:`task_loss`.
    """
    if task == "classification":
        log_p = F.log_softmax(output, dim=1)
        return F.nll_loss(log_p.detach(), targets, reduction="none"), F.nll_loss(log_p, targets)
    ell = task_loss(output, targets, task, regression_loss)
    return ell.detach(), ell.mean()


class LossMethod(abc.ABC):
    """Base class of every loss method. Subclasses set the class attributes and implement ``loss``.

    What a method knows about itself, and the core asks instead of naming methods:
    ``tasks`` (task support), ``n_models``, ``weight_kind`` (what :meth:`sample_weights` means),
    ``hardness_reference`` (its clean-label runs define per-sample hardness), ``comparison_baseline``
    (the report pairs every other method against it), :meth:`presets`,
    :meth:`search_space` and :meth:`official_params`.
    """

    name: ClassVar[str]
    Params: ClassVar[type[MethodParams]]
    n_models: ClassVar[int] = 1
    tasks: ClassVar[frozenset[str]] = frozenset({"classification", "regression"})
    weight_kind: ClassVar[WeightKind | None] = None
    """What :meth:`sample_weights` returns (None: the method weighs no sample)."""
    hardness_reference: ClassVar[bool] = False
    """Whether this method's clean-label (rate 0) runs give the per-sample hardness the diagnostics of
    the other cells use: true for the plain task loss only (the report's sensitivity curves are read
    against its mean too)."""
    comparison_baseline: ClassVar[bool] = False
    """Whether the report's paired comparisons measure every other method of a cell against this one (on
    matched seeds): the plain task loss, and the method a study sets out to reproduce."""
    keeps_best_checkpoint: bool = False
    """Whether the engine must keep a copy of the models of the best epoch so far (by the run's
    selection split) for ``predict_train(checkpoint="best")``; off by default, as it costs a copy."""

    def __init__(self, params: MethodParams, ctx: MethodContext) -> None:
        if ctx.task not in self.tasks:
            raise HyperparameterError(
                f"method {self.name!r} does not support {ctx.task} tasks "
                f"(supported: {', '.join(sorted(self.tasks))})"
            )
        self.params = params
        self.ctx = ctx

    # ---- hyperparameters ----------------------------------------------------------------------

    @classmethod
    def make_params(cls, values: Mapping[str, Any] | None = None) -> MethodParams:
        """Validate ``values`` (paper defaults for what is missing); one-line error on bad input."""
        try:
            return cls.Params(**dict(values or {}))
        except ValidationError as exc:
            message = _format_validation_error(cls.name, exc, cls.Params.model_fields)
            raise HyperparameterError(message) from None

    @classmethod
    def search_space(cls, ctx: MethodContext) -> dict[str, Distribution]:
        """The default search space for ``ctx``'s dataset (parameters not listed stay fixed)."""
        return {}

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        """Named parameter sets; ``"paper"`` holds the paper's defaults."""
        return {"paper": {}}

    @classmethod
    def preset_values(cls, preset: str) -> dict[str, Any]:
        """The values of one preset; an unknown name raises a one-line error naming the closest ones."""
        presets = cls.presets()
        if preset not in presets:
            raise HyperparameterError(
                f"{cls.name} has no preset {preset!r}{did_you_mean(preset, presets)} "
                f"(presets: {', '.join(sorted(presets))})"
            )
        return dict(presets[preset])

    @classmethod
    def official_params(
        cls, dataset: str, noise: str, rate: float, regression_loss: str
    ) -> dict[str, Any] | None:
        """The hyperparameters the method's own authors chose for this cell (dataset, noise, nominal rate,
        regression task loss), or None when they published none: the ``paper-official`` protocol fixes
        them instead of tuning."""
        return None

    # ---- training hooks -----------------------------------------------------------------------

    @abc.abstractmethod
    def loss(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int
    ) -> StepLoss:
        """Loss of one minibatch.

        Args:
            outputs: ``n_models`` tensors of shape (B, C) logits, or (B,) / (B, 1) for regression.
            targets: (B,) noisy targets, int64 classes or float regression targets.
            idx: (B,) int64 indices of the samples in the training set (address per-sample state).
            epoch: 0-based epoch counter.
        """

    def on_epoch_start(self, epoch: int, predict_train: TrainPredictor) -> None:
        """Called before each epoch. ``predict_train()`` returns (outputs per model, noisy targets)
        for the whole training set in index order, without gradient; call it only when needed."""

    def after_step(self) -> None:
        """Called after the model optimisers stepped: update the method's own parameters."""

    def sample_weights(self) -> torch.Tensor | None:
        """(n_train,) float on the device: how much the method trusts each training sample now
        (larger = more trusted), or None if the method has no such notion (see ``weight_kind``)."""
        return None

    def resolved_values(self) -> dict[str, Any]:
        """Values the method derived from its context rather than took from its parameters (recorded
        with the run's params, e.g. Co-teaching's forget rate and where it came from); JSON-ready."""
        return {}

    def weights_constant_by_design(self) -> bool:
        """True when :meth:`sample_weights` exists but never varies in this configuration (untruncated
        GCE's all-ones mask): equal weights then say nothing about the samples, and are no collapse."""
        return False

    def schedule_epochs(self) -> dict[str, float]:
        """Name → 0-based epoch by which each of the method's own schedules has reached its final form
        (an early-suppression phase over, a switch made, a ramp finished, a first pruning done).

        The study runner never prunes a tuning trial before these epochs (so trials are compared only
        once their schedules have run), and a run whose epochs end before one of them is flagged in the
        budget-health checks. Empty (the default) for a method without schedules.
        """
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the method mid-run."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""

    # ---- shared helpers -----------------------------------------------------------------------

    def task_loss(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Unreduced task loss (B,): CE for classification, MSE or smooth-L1 (δ=1) for regression."""
        return task_loss(output, targets, self.ctx.task, self.ctx.regression_loss)

    def task_loss_and_mean(
        self, output: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The detached task loss (B,) and its differentiable batch mean (:func:`task_loss_and_mean`)."""
        return task_loss_and_mean(output, targets, self.ctx.task, self.ctx.regression_loss)
