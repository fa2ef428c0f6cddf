"""The study file's schema: pydantic models for each section, with their bounds and one-line errors.

Only the shape and ranges of the YAML are checked here; registry names, method parameters and cross-field
rules are checked by :mod:`benchmark.config` (cells) and :mod:`benchmark.config_methods` (method entries).
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from benchmark.errors import short
from benchmark.naming import SELECTION_SERIES
from benchmark.space import BOUND_MAX

__all__ = [
    "METHOD_OPTIONS",
    "PROTOCOL_NOTES",
    "SELECTION_SERIES",
    "MethodSpec",
    "NoiseSpec",
    "StorageSpec",
    "StudyConfig",
    "TrainingSpec",
    "TuningSpec",
    "pydantic_errors",
]

SEED_MAX = BOUND_MAX  # the range the repeats draw seeds from (benchmark.study.worker)
SAMPLER_SEED_MAX = 2**32 - 1  # numpy.random.RandomState, which Optuna's samplers seed
EPOCHS_MAX = 100_000
THREADS_MAX = 1_024  # torch's thread pools; more threads than cores only slows training down

Selection = Literal["noisy-val", "clean-val", "test-oracle"]
Protocol = Literal["tuned", "paper-official"]
PROTOCOL_NOTES = {
    "tuned": "hyperparameters tuned with the study's budget and selection split",
    "paper-official": "the method authors' own per-cell hyperparameters (paper defaults where they published "
    "none), fixed, no tuning; the epoch picked by the paper's selection rule: a re-run of the paper's row, "
    "not a fair comparison",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoiseSpec(_Model):
    """One noise generator: the nominal rates of its cells and the generator's options."""

    rates: list[float] = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _rates_in_range(cls, rates: list[float]) -> list[float]:
        for rate in rates:
            if not (0.0 <= rate < 1.0) or not math.isfinite(rate):
                raise ValueError(f"rate must satisfy 0 <= rate < 1, got {short(rate)}")
        if len(set(rates)) != len(rates):
            raise ValueError(f"rates must be unique, got {short(rates)}")
        return rates


class MethodSpec(BaseModel):
    """One entry of ``methods:``: which method, from which preset, its fixed values and search overrides.

    The entry's key is its label (what cells, results and the report show). ``method`` names the
    registered method when the label is not its name, so one method can appear under several labels
    (``discrimloss-no-es: {method: discrimloss, preset: ablation-no-es}``). ``preset`` fixes one of the
    method's named parameter sets (``LossMethod.presets``); any other key fixes that hyperparameter
    (``gce: {preset: truncated, q: 0.6}``), as ``fixed`` does. ``search`` maps a hyperparameter to
    ``[low, high]`` (a range of the default's kind), a list of other length or ``{choices: [...]}``
    (categorical) or ``{low, high, log, step}``; a searched key of the preset is searched, not fixed.
    ``default_space: false`` drops the method's own search space so only ``search`` is tuned (a preset
    drops its own keys from it).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    method: str | None = Field(default=None, max_length=100)
    preset: str | None = Field(default=None, max_length=100)
    fixed: dict[str, Any] = Field(default_factory=dict)
    search: dict[str, Any] = Field(default_factory=dict)
    default_space: bool = True

    def overrides(self) -> dict[str, Any]:
        """The hyperparameters given beside the entry's options (``q: 0.6`` in ``{preset: ..., q: 0.6}``)."""
        return dict(self.model_extra or {})


METHOD_OPTIONS = tuple(MethodSpec.model_fields)
"""The keys of a method entry that are not hyperparameters."""


class TuningSpec(_Model):
    """The tuning budget and protocol, identical for every cell."""

    n_trials: int = Field(default=3, ge=1, le=10_000, description="COMPLETED trials per tunable cell")
    max_extra_trials: int | None = Field(
        default=None, ge=0, le=100_000, description="pruned + failed trials a cell may add (None: n_trials)"
    )
    prune_startup_trials: int = Field(
        default=3, ge=1, le=10_000, description="completed trials before any pruning"
    )
    prune_warmup_fraction: float = Field(
        default=0.25, ge=0.0, le=1.0, description="share of the epochs no trial is pruned in"
    )
    sampler_seed: int = Field(default=0, ge=0, le=SAMPLER_SEED_MAX, description="numpy's seed range")
    seed: int = Field(default=0, ge=0, le=SEED_MAX, description="training seed of the tuning trials")
    pruner: Literal["median", "hyperband", "none"] = "median"
    selection: Selection | list[Selection] = "noisy-val"

    def selections(self) -> list[str]:
        return [self.selection] if isinstance(self.selection, str) else list(dict.fromkeys(self.selection))


class TrainingSpec(_Model):
    """Overrides of the datasets' training recipes shared by every run."""

    epochs: int | None = Field(default=None, ge=1, le=EPOCHS_MAX)
    device: str = "auto"
    recipe: dict[str, Any] = Field(default_factory=dict)
    recipe_kind: Literal["fast", "paper"] = "fast"
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    data_root: str | None = None
    threads: int | None = Field(default=None, description="torch CPU threads (None: torch's default)")

    @field_validator("threads")
    @classmethod
    def _threads_bounded(cls, threads: int | None) -> int | None:
        if threads is not None and not 1 <= threads <= THREADS_MAX:
            raise ValueError(
                f"need 1 <= threads <= {THREADS_MAX} (torch's thread pool; more threads than cores only slow "
                f"training, this machine has {os.cpu_count()})"
            )
        return threads


class StorageSpec(_Model):
    """Where trials and tracking go; ``None`` means SQLite files inside the output folder.

    ``mlflow: none`` disables tracking. ``heartbeat_interval`` / ``grace_period`` (seconds) apply to RDB
    storages (PostgreSQL): a trial whose worker stops beating for ``grace_period`` is failed and retried.
    """

    optuna: str | None = None
    mlflow: str | None = None
    heartbeat_interval: int = Field(default=10, ge=1, le=86_400)
    grace_period: int = Field(default=60, ge=2, le=86_400)


class StudyConfig(_Model):
    """The whole study file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    datasets: dict[str, dict[str, Any]] = Field(min_length=1)
    noises: dict[str, NoiseSpec] = Field(min_length=1)
    methods: dict[str, MethodSpec] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1, max_length=1_000)
    tuning: TuningSpec = Field(default_factory=TuningSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    out: str | None = None
    protocols: list[Protocol] = Field(default=["tuned"], min_length=1)
    official_selection: Selection = "test-oracle"
    official_noise_params: dict[str, Any] = Field(default_factory=dict)
    sweeps: Any = None  # sensitivity sweeps, validated by benchmark.sweeps.spec

    @field_validator("datasets", "methods", mode="before")
    @classmethod
    def _list_to_mapping(cls, value: Any) -> Any:
        """Accept a list of names, and ``name:`` with no value, as ``{name: {}}``."""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = dict.fromkeys(value, None)
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be unique, got {short(seeds)}")
        if any(not 0 <= s <= SEED_MAX for s in seeds):
            raise ValueError(
                f"seeds must satisfy 0 <= seed <= 2**62 (the repeats' seed range), got {short(seeds)}"
            )
        return seeds


def pydantic_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden":
            out.append(f"{loc}: unknown key")
        elif err["type"] == "missing":
            out.append(f"{loc}: required key missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            out.append(f"{loc}={short(err.get('input'))}: {msg}")
    return out
