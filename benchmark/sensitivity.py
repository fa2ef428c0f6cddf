"""Sensitivity sweeps: grids of hyperparameter values and how robust a metric is across them.

A sweep varies one hyperparameter (or a pair) around a base configuration and repeats every point over the
study's seeds. This module holds the parts that do not depend on how runs are executed: expanding a grid
written in a study file, the per-point interval over seeds, and the robustness summary the report prints
(metric range and plateau width). Everything here is pure so that it can be tested against hand-computed
cases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

import numpy as np

from benchmark.errors import StudyConfigError

__all__ = [
    "MAX_GRID_POINTS",
    "GridAxis",
    "Robustness",
    "Scale",
    "expand_axis",
    "grid_points",
    "is_log_spaced",
    "robustness",
]

MAX_GRID_POINTS = 101  # per axis: a sweep is a curve, not a search; more points belong in tuning
Scale = Literal["linear", "log"]
GridValue = float | int | str | bool


@dataclass(frozen=True)
class GridAxis:
    """One swept hyperparameter: its values in sweep order and whether they are spaced on a log scale."""

    param: str
    values: tuple[GridValue, ...]
    scale: Scale = "linear"


def expand_axis(param: str, spec: Any, where: str) -> GridAxis:
    """The axis a study file writes as a list of values or ``{low, high, steps, scale}``.

    ``where`` names the place in the study file for the one-line error (e.g. ``sweeps.dl-a.grid.a``).
    Ranges include both ends; ``scale: log`` spaces the points geometrically and needs ``low > 0``.
    Integer ranges (``low`` and ``high`` both integers, linear) give integers and refuse a step count that
    would repeat a value.
    """
    if isinstance(spec, list):
        return _axis_from_list(param, spec, where)
    if isinstance(spec, Mapping):
        return _axis_from_range(param, spec, where)
    raise StudyConfigError(
        f"{where}: expected a list of values or {{low, high, steps, scale}}, got {type(spec).__name__}"
    )


def _axis_from_list(param: str, values: list[Any], where: str) -> GridAxis:
    if not values:
        raise StudyConfigError(f"{where}: the list of values is empty")
    if len(values) > MAX_GRID_POINTS:
        raise StudyConfigError(f"{where}: {len(values)} values, at most {MAX_GRID_POINTS} per axis")
    for value in values:
        if not isinstance(value, int | float | str | bool):
            raise StudyConfigError(f"{where}: values must be numbers or strings, got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise StudyConfigError(f"{where}: value {value} is not finite")
    if len({repr(v) for v in values}) != len(values):
        raise StudyConfigError(f"{where}: the list repeats a value")
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    scale: Scale = "log" if numeric and is_log_spaced(values) else "linear"
    return GridAxis(param, tuple(values), scale)


def is_log_spaced(values: Sequence[float]) -> bool:
    """Whether more than two positive values are spaced geometrically (equal ratios, not all equal): such
    an axis is drawn on a log scale and its plateau width is measured in decades."""
    if len(values) < 3 or any(v <= 0 for v in values):
        return False
    ratios = [values[i + 1] / values[i] for i in range(len(values) - 1)]
    return max(ratios) / min(ratios) < 1.0 + 1e-9 and abs(ratios[0] - 1.0) > 1e-9


def _axis_from_range(param: str, spec: Mapping[str, Any], where: str) -> GridAxis:
    unknown = sorted(set(spec) - {"low", "high", "steps", "scale"})
    if unknown:
        raise StudyConfigError(f"{where}: unknown key {unknown[0]!r} (use low, high, steps, scale)")
    missing = [k for k in ("low", "high", "steps") if k not in spec]
    if missing:
        raise StudyConfigError(f"{where}: a range needs {missing[0]!r}")
    low, high, steps, scale = spec["low"], spec["high"], spec["steps"], spec.get("scale", "linear")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise StudyConfigError(f"{where}.{name}: expected a finite number, got {value!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= MAX_GRID_POINTS:
        raise StudyConfigError(f"{where}.steps: expected an integer in [2, {MAX_GRID_POINTS}], got {steps!r}")
    if scale not in ("linear", "log"):
        raise StudyConfigError(f"{where}.scale: expected 'linear' or 'log', got {scale!r}")
    if not low < high:
        raise StudyConfigError(f"{where}: low ({low}) must be below high ({high})")
    if scale == "log":
        if low <= 0:
            raise StudyConfigError(f"{where}: a log range needs low > 0, got {low}")
        points = np.geomspace(low, high, steps)
        return GridAxis(param, tuple(_round(float(v)) for v in points), "log")
    if isinstance(low, int) and isinstance(high, int):
        if steps > high - low + 1:
            raise StudyConfigError(
                f"{where}: {steps} steps between the integers {low} and {high} would repeat values"
            )
        ints = np.linspace(low, high, steps).round().astype(int)
        return GridAxis(param, tuple(int(v) for v in ints), "linear")
    return GridAxis(param, tuple(_round(float(v)) for v in np.linspace(low, high, steps)), "linear")


def _round(value: float) -> float:
    """12 significant digits: 0.1 + 0.05 shows as 0.15 in params, tables and MLflow."""
    return float(f"{value:.12g}")


def grid_points(axes: Sequence[GridAxis]) -> list[dict[str, GridValue]]:
    """Every point of a one- or two-axis grid, first axis slowest."""
    if not 1 <= len(axes) <= 2:
        raise StudyConfigError(f"a sweep varies one or two hyperparameters, got {len(axes)}")
    names = [axis.param for axis in axes]
    return [dict(zip(names, combo, strict=True)) for combo in product(*(axis.values for axis in axes))]


@dataclass(frozen=True)
class Robustness:
    """How much a metric depends on one swept hyperparameter.

    ``metric_range`` is max − min of the per-point means. The plateau is the contiguous run of grid points
    around the best one whose mean lies within the best point's confidence interval (mean ≥ its lower
    bound, for a metric where higher is better); ``plateau_width`` is ``plateau_high − plateau_low``, in
    decades (log10 units) on a log axis. A wide plateau means the choice of value hardly matters; a
    one-point plateau means the best value is a peak that a different seed could move.
    """

    best_value: float
    best_mean: float
    metric_range: float
    plateau_low: float
    plateau_high: float
    plateau_width: float
    plateau_points: int
    points: int


def robustness(
    values: Sequence[float],
    means: Sequence[float],
    best_ci_low: float,
    *,
    scale: Scale = "linear",
    higher_is_better: bool = True,
) -> Robustness:
    """The robustness summary of one curve (``values`` ascending; ``best_ci_low``: the best point's bound).

    For a metric where lower is better pass the best point's *upper* bound as ``best_ci_low`` and
    ``higher_is_better=False``. A NaN mean (a point whose runs all failed) ends the plateau.
    """
    x = np.asarray(values, dtype=float)
    m = np.asarray(means, dtype=float)
    if x.size == 0 or x.size != m.size:
        raise ValueError("values and means must be non-empty and of equal length")
    if np.any(np.diff(x) <= 0):
        raise ValueError("values must be strictly increasing")
    if np.all(np.isnan(m)):
        nan = math.nan
        return Robustness(nan, nan, nan, nan, nan, nan, 0, int(x.size))
    sign = 1.0 if higher_is_better else -1.0
    best = int(np.nanargmax(sign * m))
    bound = sign * best_ci_low if math.isfinite(best_ci_low) else sign * m[best]
    inside = ~np.isnan(m) & (sign * m >= bound)
    lo = hi = best
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < x.size - 1 and inside[hi + 1]:
        hi += 1
    width = float(np.log10(x[hi]) - np.log10(x[lo])) if scale == "log" else float(x[hi] - x[lo])
    return Robustness(
        best_value=float(x[best]),
        best_mean=float(m[best]),
        metric_range=float(np.nanmax(m) - np.nanmin(m)),
        plateau_low=float(x[lo]),
        plateau_high=float(x[hi]),
        plateau_width=width,
        plateau_points=hi - lo + 1,
        points=int(x.size),
    )
