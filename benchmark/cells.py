"""The resolved units of a study: a cell (what gets tuned and repeated) and what a dataset tells the plan.

Kept apart from :mod:`benchmark.config` so that modules which expand other kinds of cells (sensitivity
sweeps) can build on them without importing the study-file loader that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmark.registry import METHODS
from benchmark.space import Distribution

__all__ = ["Cell", "DatasetInfo"]


@dataclass(frozen=True)
class Cell:
    """One (dataset, noise, rate, method[, selection]) cell, fully resolved."""

    study: str
    dataset: str
    dataset_kwargs: dict[str, Any]
    noise: str
    noise_params: dict[str, Any]
    rate: float
    method: str
    fixed: dict[str, Any]
    space: dict[str, Distribution]
    defaults: dict[str, Any]
    selection: str
    n_trials: int
    task: str
    suffix_selection: bool = False
    max_extra_trials: int | None = None
    protocol: str = "tuned"
    official: bool = False  # paper-official cells: whether the method published values for this cell
    label: str = ""  # the study's name for the method entry ("" or the method's name: no label of its own)

    @property
    def extra_tags(self) -> dict[str, str]:
        """Tags a kind of cell adds to its parent run and every run of it (none for a tuned cell)."""
        return {}

    @property
    def method_label(self) -> str:
        """What results and the report show for the method: the entry's label, else the method's name."""
        return self.label or self.method

    @property
    def cell_id(self) -> str:
        """``{dataset}/{noise}/{rate}/{label}`` (plus ``@{selection}`` when a study has several, and
        ``@paper-official`` for the cells of that protocol)."""
        base = f"{self.dataset}/{self.noise}/{self.rate:g}/{self.method_label}"
        if self.protocol != "tuned":
            return f"{base}@{self.protocol}"
        return f"{base}@{self.selection}" if self.suffix_selection else base

    @property
    def provides_hardness(self) -> bool:
        """Clean-label runs of the plain task loss (the method says so: ``hardness_reference``) give the
        per-sample hardness used by the diagnostics of other cells."""
        return self.rate == 0.0 and self.method in METHODS and METHODS.get(self.method).hardness_reference

    @property
    def budget(self) -> int:
        """Trials of this cell: the configured budget, or 1 (the defaults) when nothing is searched."""
        return self.n_trials if self.space else 1

    @property
    def extra_cap(self) -> int:
        """Pruned and failed trials this cell may add on top of its budget before it stops tuning."""
        return self.budget if self.max_extra_trials is None else self.max_extra_trials


@dataclass(frozen=True)
class DatasetInfo:
    """What validation needs to know about a dataset without loading it."""

    name: str
    task: str
    num_classes: int | None
    n_train: int | None
    epochs: int | None
    noise_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    present: bool = True
    location: str | None = None
    regression_loss: str = "mse"
