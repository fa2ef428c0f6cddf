"""What a cell's MLflow parent run carries, so that the runs table can be sorted and compared by cell
without opening the repeat runs: per headline metric the mean, std and 95 % BCa CI bounds over seeds
(the same numbers as the report's per-cell table), one headline scalar, and the budget-health tags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchmark import stats

__all__ = ["HEADLINE_COLUMNS", "HEALTH_PREFIX", "cell_aggregates"]

HEADLINE_COLUMNS = ("test_best_val", "test_last", "test_oracle")
HEALTH_PREFIX = "health_"  # results.csv columns of the budget-health checks become parent-run tags


def cell_aggregates(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags for a cell's parent run from the cell's ``results.csv`` rows.

    Metrics: ``{column}_mean``, ``_std`` (ddof 1), ``_ci_low``, ``_ci_high`` for each of
    :data:`HEADLINE_COLUMNS`, ``n_seeds``, and ``headline_test_{metric}`` (the test metric at the best-val
    epoch, mean over seeds: the one number to sort cells by). Values that do not exist (a CI from fewer
    than 3 seeds, a std from one) are left out rather than logged as NaN.

    Tags: ``discrimbench.headline`` (what the headline scalar is) and ``discrimbench.{health column}`` for
    every ``health_*`` column the rows carry (the first row's value, one per cell).
    """
    ok = [r for r in rows if str(r.get("status", "ok")) == "ok"]
    metrics: dict[str, float] = {"n_seeds": float(len(ok))}
    tags: dict[str, str] = {}
    if not ok:
        return metrics, tags
    for col in HEADLINE_COLUMNS:
        values = np.asarray([_float(r.get(col)) for r in ok], dtype=float)
        values = values[np.isfinite(values)]
        if not values.size:
            continue
        ci = stats.bootstrap_ci(values, seed=0)
        metrics[f"{col}_mean"] = float(values.mean())
        metrics[f"{col}_std"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
        metrics[f"{col}_ci_low"], metrics[f"{col}_ci_high"] = ci.low, ci.high
    metric = str(ok[0].get("metric") or "acc")
    if "test_best_val_mean" in metrics:
        metrics[f"headline_test_{metric}"] = metrics["test_best_val_mean"]
        tags["discrimbench.headline"] = (
            f"headline_test_{metric}: test {metric} at the best-validation epoch, mean over {len(ok)} seed(s)"
        )
    for key, value in ok[0].items():
        if key.startswith(HEALTH_PREFIX) and value is not None and str(value) != "":
            tags[f"discrimbench.{key}"] = str(value)
    return {k: v for k, v in metrics.items() if math.isfinite(v)}, tags


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
