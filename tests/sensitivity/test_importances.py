"""Importances from sweep runs: refused below 20 completed runs per cell (with the count said), computed from
20 up, the seed counted as a parameter."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from benchmark.report.sensitivity import cell_importances
from benchmark.report.sources import MIN_IMPORTANCE_TRIALS


def _rows(n: int) -> pd.DataFrame:
    """``n`` runs of one cell: an a-sweep and a p-sweep around a = 0.3, p = 1; only a moves the metric."""
    rows = []
    rng = np.random.default_rng(0)
    for i in range(n):
        seed = 1 + i % 3
        point = {"a": [0.1, 0.2, 0.3, 0.4, 0.5][i // 3 % 5]} if i % 2 else {"p": [0.5, 1.0, 2.0][i // 3 % 3]}
        value = 90.0 - 200.0 * ({"a": 0.3, **point}["a"] - 0.3) ** 2 + rng.normal(0, 0.1)
        rows.append({
            "dataset": "digits", "noise": "sym-excl", "rate": 0.4, "method": "discrimloss", "seed": seed,
            "status": "ok", "test_best_val": value, "higher_is_better": True, "swept": point,
            "base": {"a": 0.3, "p": 1.0, "q": None},
        })  # fmt: skip
    return pd.DataFrame(rows)


def test_importances_refused_below_the_threshold_with_the_count() -> None:
    assert MIN_IMPORTANCE_TRIALS == 20
    (cell,) = cell_importances(_rows(19))
    assert cell.trials == 19 and cell.fanova == {} and cell.ped_anova == {}
    assert cell.note == (
        "importances not drawn: 19 completed sweep run(s) (≥ 20 required for fANOVA and PED-ANOVA)"
    )


def test_importances_from_twenty_runs_name_the_parameter_that_matters() -> None:
    frame = _rows(20)
    frame.loc[0, "status"] = "failed"  # a failed run does not count
    (short,) = cell_importances(frame)
    assert short.trials == 19 and not short.fanova
    (cell,) = cell_importances(_rows(20))
    assert cell.trials == 20 and cell.note == ""
    assert set(cell.fanova) == set(cell.ped_anova) == {"a", "p", "seed"}
    assert max(cell.fanova, key=cell.fanova.__getitem__) == "a"
    assert abs(sum(cell.fanova.values()) - 1.0) < 1e-9
    json.dumps(cell.fanova)  # plain floats
