"""What goes into one training run and what comes out, shared by the engine, the study runner and the
report. A *run* trains one model (two for Co-teaching) once.

``RESULT_COLUMNS`` is the schema of a study's tidy ``results.csv`` (one row per repeat run) and of the
published reference numbers in ``benchmark/report/references/`` (which add source columns).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["RESULT_COLUMNS", "RunResult", "RunSpec"]


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides a run, fixed before it starts.

    Attributes:
        dataset / noise / method: registry names.
        rate: nominal noise rate of the cell.
        params: method hyperparameters (missing ones take the method's paper defaults).
        seed: one seed, split into independent streams for noise, split, initialisation and data order.
        device: "auto", "cpu" or "cuda[:i]".
        epochs: overrides the recipe's epochs when set.
        recipe: overrides of :class:`benchmark.data.Recipe` fields.
        recipe_kind: "fast" (CPU-sized) or "paper" (the paper's recipe, where the dataset has one).
        dataset_kwargs: dataset options (sizes of generated data, ...).
        noise_params: noise-generator options.
        val_fraction: share of the training pool held out for validation.
        data_root: dataset root (None: the ``DISCRIMBENCH_DATA`` variable, else ``datasets/``).
    """

    dataset: str
    noise: str = "sym-excl"
    rate: float = 0.0
    method: str = "ce"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    epochs: int | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    recipe_kind: Literal["fast", "paper"] = "fast"
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    noise_params: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.1
    data_root: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Per-epoch metrics, keys slash-namespaced as logged to MLflow (NaN where not applicable):
# ``memo/noisy_acc``: accuracy of the corrupted training samples against their noisy labels;
# ``memo/true_acc``: the same samples against their true labels (each sample as predicted in its own
# training step of the epoch; with augmentation, re-predicted after it); ``memo/clean_acc``: the clean
# samples against their labels (with augmentation, an evenly spaced subset as large as the corrupted set);
# ``diag/auroc_noisy_clean`` and ``diag/auroc_noisy_hard``: AUROC of (1 − weight) ranking corrupted above
# clean / hard clean samples; ``diag/weight_clean_mean`` and ``diag/weight_corrupted_mean``: mean
# per-sample weight of each group (methods with weights).


@dataclass
class RunResult:
    """The outcome of one run. ``status == "failed"`` carries ``reason`` (never an exception)."""

    spec: RunSpec
    status: Literal["ok", "failed", "pruned"]
    metric: Literal["acc", "mae"]
    higher_is_better: bool
    history: list[dict[str, float]] = field(default_factory=list)
    reason: str | None = None
    test_last: float = math.nan
    test_best_val: float = math.nan
    test_oracle: float = math.nan
    val_best: float = math.nan
    best_val_epoch: int = -1
    oracle_epoch: int = -1
    realised_rate: float = math.nan
    noisy_labels_sha256: str = ""
    auroc_noisy_clean: float = math.nan
    auroc_noisy_hard: float = math.nan
    wall_time_s: float = math.nan
    samples_per_s: float = math.nan
    peak_memory_mb: float = math.nan
    device: str = "cpu"
    sample_weights: Any = None  # (n_train,) numpy array or None, not serialised to JSON
    hardness: Any = None  # (n_train,) mean training loss per sample over epochs (numpy), not in JSON
    health: dict[str, Any] = field(default_factory=dict)  # benchmark.health.run_health
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN → None); per-sample arrays are left out."""
        out = {k: v for k, v in asdict(self).items() if k not in ("sample_weights", "hardness")}
        safe: dict[str, Any] = _json_safe(out)
        return safe


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# The tidy results table: one row per repeat run.
RESULT_COLUMNS: tuple[str, ...] = (
    "study",  # study name
    "dataset",
    "noise",  # noise generator name
    "rate",  # nominal rate
    "method",  # the study's label of the method entry (the method's name when it has no label of its own)
    "registered_method",  # the registered method behind the label (LossMethod.name)
    "seed",
    "selection",  # how hyperparameters were selected: noisy-val | clean-val | test-oracle
    "protocol",  # tuned | paper-official (the official per-cell hyperparameters, fixed: benchmark.config)
    "metric",  # acc | mae
    "higher_is_better",
    "test_last",  # test metric at the last epoch
    "test_best_val",  # test metric at the best-validation epoch
    "test_oracle",  # best test metric over epochs (ORACLE: reads the test set)
    "val_best",
    "best_val_epoch",
    "realised_rate",
    "auroc_noisy_clean",
    "auroc_noisy_hard",
    "status",  # ok | failed
    "reason",
    "epochs",
    "model",  # model of the recipe (reference numbers only join on the same model)
    "n_trials",  # tuning budget of the cell
    "params",  # JSON object of the hyperparameters used
    "noisy_labels_sha256",
    "wall_time_s",
    "run_id",  # DiscrimBench run id (cell/role/seed)
    "mlflow_run_id",
    # budget health of the run and its cell (benchmark.health)
    "trials_completed",  # COMPLETE tuning trials of the cell
    "trials_pruned",  # PRUNED tuning trials (extra, not in the budget)
    "trials_failed",  # FAIL (diverged) tuning trials (extra)
    "won_by",  # defaults | draw N (slot of the TPE draw) | none
    "schedules_finished",  # every schedule of the method ended inside the epochs
    "converged",  # clean-part training metric and training loss plateaued
    "weights_collapsed",  # per-sample weights ended with (almost) no spread (empty: no weights)
    "health",  # ok, or the failed checks of the run and its cell, "; "-separated
)
