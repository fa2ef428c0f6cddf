"""The report's "budget health" section: one row per cell saying how far to trust its numbers, and the
banner naming the cells that fail a check (:mod:`benchmark.health` defines the checks).

Built only from results.csv (its health columns), so any report of a study folder can place it.
"""

from __future__ import annotations

import math
from typing import Any, cast

import pandas as pd

from benchmark.health import cell_health, warning_text
from benchmark.report.render import Cell, Table

__all__ = ["budget_health", "health_banner", "health_table", "unhealthy_cells"]

_KEYS = ["dataset", "noise", "rate", "method", "selection"]
_CHECKS = ("schedules_finished", "converged", "weights_collapsed")


def _cells(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    keys = [k for k in _KEYS if k in df.columns]
    out = []
    for values, sub in df.groupby(keys, sort=True, dropna=False):
        named = values if isinstance(values, tuple) else (values,)
        parts: dict[str, Any] = dict(zip(keys, named, strict=True))
        name = f"{parts['dataset']}/{parts['noise']}/{float(parts['rate']):g}/{parts['method']}"
        out.append((name, sub))
    return out


def _records(sub: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``sub`` as results.csv rows (column name → value)."""
    return cast(list[dict[str, Any]], sub.to_dict("records"))


def _has_health(df: pd.DataFrame) -> bool:
    return "health" in df.columns and bool(df["health"].dropna().astype(str).str.len().gt(0).any())


def unhealthy_cells(df: pd.DataFrame) -> dict[str, list[str]]:
    """Cell name → failures, for the cells of ``df`` (results.csv rows) that fail a check."""
    if not _has_health(df):
        return {}
    out = {}
    for name, sub in _cells(df):
        healthy, failures = cell_health(_records(sub))
        if not healthy:
            out[name] = failures
    return out


def health_banner(df: pd.DataFrame) -> str:
    """The warning banner of the report; empty when every cell passes."""
    return warning_text(unhealthy_cells(df))


def _count(sub: pd.DataFrame, col: str, value: Any) -> int:
    if col not in sub:
        return 0
    return int(sub[col].map(lambda v: _as_bool(v) is value).sum())


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return bool(value)
    return None


def _first(sub: pd.DataFrame, col: str) -> str:
    if col not in sub:
        return "—"
    values = sub[col].dropna()
    if values.empty or str(values.iloc[0]) == "":
        return "—"
    value = values.iloc[0]
    return f"{int(value)}" if isinstance(value, float) and value.is_integer() else str(value)


def _auroc(sub: pd.DataFrame) -> str:
    """Mean weight AUROC over the seeds that have one; "—" when none (constant or collapsed weights)."""
    if "auroc_noisy_clean" not in sub:
        return "—"
    values = pd.to_numeric(sub["auroc_noisy_clean"], errors="coerce").dropna()
    return "—" if values.empty else f"{values.mean():.3f}"


def health_table(df: pd.DataFrame) -> Table | None:
    """One row per cell: trials, winner, schedule / convergence / collapse counts, weight AUROC, verdict.
    None when results.csv has no health columns (written by an older DiscrimBench)."""
    if not _has_health(df):
        return None
    header = ["cell", "trials completed", "pruned", "failed", "won by", "schedules finished", "converged",
              "weights collapsed", "weight AUROC", "health"]  # fmt: skip
    rows = []
    for name, sub in _cells(df):
        healthy, failures = cell_health(_records(sub))
        n = len(sub)
        rows.append([
            Cell(name), Cell(_first(sub, "trials_completed")), Cell(_first(sub, "trials_pruned")),
            Cell(_first(sub, "trials_failed")), Cell(_first(sub, "won_by")),
            *(Cell(f"{_count(sub, c, True)}/{n}") for c in _CHECKS),
            Cell(_auroc(sub)),
            Cell("ok" if healthy else "FAIL: " + "; ".join(failures), bold=not healthy),
        ])  # fmt: skip
    notes = [
        "Trials: the budget counts COMPLETED tuning trials; pruned and failed (diverged) trials are extra. "
        "won by: the trial whose hyperparameters the repeats use (defaults = the paper defaults, draw N = "
        "the TPE draw of slot N).",
        "Per repeat run (counts over seeds): every method schedule ended inside the epochs; converged = the "
        "clean part of the training set and the training loss plateaued; collapsed = per-sample weights "
        "with (almost) no spread (std/|mean| < 1e-3).",
        "Weight AUROC (corrupted vs clean, mean over seeds): — when the weights are constant (CE, "
        "untruncated GCE) or collapsed: equal weights rank nothing (their AUROC would be one half by ties).",
    ]
    protocol = "Budget health of every cell (benchmark.health); a failing cell's numbers describe the budget."
    return Table("Budget health", protocol, header, rows, notes, key="health")


def budget_health(df: pd.DataFrame) -> tuple[str, Table | None]:
    """The banner (empty when healthy) and the table of the report's budget-health section."""
    return health_banner(df), health_table(df)
