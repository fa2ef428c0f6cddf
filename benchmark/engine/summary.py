"""Per-run numbers from the per-epoch history: last, best-selection and oracle epochs."""

from __future__ import annotations

import math

__all__ = ["best_epoch", "summarise_history"]


def best_epoch(history: list[dict[str, float]], key: str, higher_is_better: bool) -> int:
    """Index of the best finite ``key`` value (ties → the earliest epoch), or -1 when there is none."""
    values = [(row[key], i) for i, row in enumerate(history) if math.isfinite(row.get(key, math.nan))]
    if not values:
        return -1
    return min(values, key=lambda v: (-v[0] if higher_is_better else v[0], v[1]))[1]


def summarise_history(
    history: list[dict[str, float]], metric: str, selection_key: str, higher_is_better: bool
) -> dict[str, float | int]:
    """The :class:`~benchmark.runs.RunResult` fields that come from the history.

    ``test_best_val`` is the test metric at the epoch that is best on ``selection_key``; ``test_oracle``
    is the best test metric over epochs (it reads the test set: only for parity with papers).
    """
    test_key = f"test/{metric}"
    sel = best_epoch(history, selection_key, higher_is_better)
    orc = best_epoch(history, test_key, higher_is_better)
    last = history[-1] if history else {}
    return {
        "test_last": last.get(test_key, math.nan),
        "test_best_val": history[sel][test_key] if sel >= 0 else math.nan,
        "test_oracle": history[orc][test_key] if orc >= 0 else math.nan,
        "val_best": history[sel][selection_key] if sel >= 0 else math.nan,
        "best_val_epoch": sel,
        "oracle_epoch": orc,
        "auroc_noisy_clean": last.get("diag/auroc_noisy_clean", math.nan),
        "auroc_noisy_hard": last.get("diag/auroc_noisy_hard", math.nan),
    }
