"""The method-neutral rule of ``benchmarks/learning_curves.py`` (docs/recipes.md): the plateau check, the
schedule check, and the weight AUROC left out for constant weights; plus one real clean-data curve."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmark.runs import RunResult, RunSpec

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "learning_curves.py"
_spec = importlib.util.spec_from_file_location("learning_curves", _SCRIPT)
assert _spec is not None and _spec.loader is not None
lc = importlib.util.module_from_spec(_spec)
sys.modules["learning_curves"] = lc  # a script, not a module of the package: loaded by its path
_spec.loader.exec_module(lc)


def test_plateau_gain_compares_the_best_running_means_of_the_two_halves() -> None:
    # 3-epoch running means: [10, 15, 20, 36.7, 50, 60]; best of each half 20 / 60 → +40 points
    assert lc.plateau_gain([10, 20, 30, 60, 60, 60], "acc") == pytest.approx(40.0)
    assert lc.plateau_gain([90, 90, 90, 90, 90, 90], "acc") == 0.0
    # MAE: relative improvement of the lowest running mean, [10, 10, 10] → [8, 6, 4]: (10 − 4)/10
    assert lc.plateau_gain([10, 10, 10, 4, 4, 4], "mae") == pytest.approx(0.6)


def test_a_flat_curve_must_beat_the_constant_predictor() -> None:
    """A model that predicts one value has a flat curve (gain 0): the rule refuses it by this check."""
    import torch

    loop = SimpleNamespace(
        metric="mae", y_train=torch.tensor([10.0, 20.0, 30.0]), y_val=torch.tensor([0.0, 40.0])
    )
    assert lc.constant_predictor_val(loop) == pytest.approx(20.0)  # mean 20: |0 − 20|, |40 − 20|
    loop = SimpleNamespace(metric="acc", y_train=torch.tensor([1, 1, 2]), y_val=torch.tensor([1, 2, 2, 2]))
    assert lc.constant_predictor_val(loop) == pytest.approx(25.0)  # class 1 is right on 1 of 4
    dead = {"metric": "mae", "val": [89.0, 89.0, 89.0], "constant_val": 39.5}
    assert lc.plateau_gain(dead["val"], "mae") == 0.0 and not lc.beats_constant(dead)
    assert lc.beats_constant({"metric": "mae", "val": [9.0, 2.7], "constant_val": 39.5})
    assert not lc.beats_constant({"metric": "acc", "val": [25.0], "constant_val": 25.0})


def test_schedule_ends_by_mid_run() -> None:
    assert not lc.schedule_ends("coteaching", {"num_gradual": 10}, 19)  # ramp ends at 10 > 9
    assert lc.schedule_ends("coteaching", {"num_gradual": 10}, 20)
    assert not lc.schedule_ends("discrimloss", {"sup_eps": 3, "q": None}, 5)  # ES lasts 3 > 2 epochs
    assert lc.schedule_ends("discrimloss", {"sup_eps": 3, "q": None}, 20)
    assert not lc.schedule_ends("discrimloss", {"sup_eps": 3, "q": 60}, 20)  # γ would switch after the end
    assert not lc.schedule_ends("gce", {"truncated": True, "prune_start": 40}, 40)
    assert lc.schedule_ends("gce", {"truncated": False}, 20)


def _result(weights: np.ndarray | None, auroc: float) -> RunResult:
    spec = RunSpec(dataset="digits", noise="sym-excl", rate=0.4, method="gce", seed=1)
    return RunResult(spec, "ok", "acc", True, sample_weights=weights, auroc_noisy_clean=auroc)


def test_weight_auroc_is_left_out_for_constant_weights() -> None:
    assert math.isnan(lc.weight_auroc(_result(None, math.nan)))
    assert math.isnan(lc.weight_auroc(_result(np.ones(5), 0.5)))
    assert lc.weight_auroc(_result(np.array([1.0, 0.2, 1.0]), 0.75)) == 0.75


def test_clean_curve_logs_the_clean_training_metric_per_epoch() -> None:
    c = lc.clean_curve("synthetic-hard", "ce", epochs=2)
    assert c["metric"] == "acc" and c["status"] == "ok"
    assert len(c["train"]) == len(c["val"]) == 2
    assert all(0.0 <= v <= 100.0 for v in c["train"])


def test_table_blocks_keep_only_seeds_run_for_every_cell_and_replace_their_own_block() -> None:
    cells = [lc.Cell("digits", m, r, s, "acc", 90.0 + s, 80.0, math.nan, 1.0)
             for m in lc.METHODS for r in (0.0, 0.4) for s in (1, 2)]  # fmt: skip
    cells.append(lc.Cell("digits", "ce", 0.0, 3, "acc", 50.0, 50.0, math.nan, 1.0))  # seed 3 incomplete
    block = lc.table_blocks(cells)["digits"]
    assert "seeds 1, 2;" in block
    assert "| ce | 0 | 91.5 ± 0.7 | 80.0 ± 0.0 | — |" in block  # 91 and 92: mean 91.5, sample std 0.707
    doc = "intro\n<!-- table:end -->\nafter\n"
    once = lc.replace_block(doc, "digits", "A")
    assert (
        once
        == "intro\n<!-- table:digits:start -->\nA\n<!-- table:digits:end -->\n<!-- table:end -->\nafter\n"
    )
    assert lc.replace_block(once, "digits", "B") == once.replace("\nA\n", "\nB\n")


def test_regression_datasets_run_only_the_methods_that_support_them() -> None:
    assert lc.methods_for("digitsum") == ["ce", "superloss", "discrimloss"]
    assert lc.params_for("digitsum", "superloss") == {"tau_mode": "ema"}
    assert lc.params_for("digits", "superloss") == {}


def test_a_model_that_never_changes_its_predictions_is_stuck_not_a_plateau() -> None:
    dead = {"metric": "mae", "train": [49.5] * 4, "val": [89.0] * 4, "constant_val": 39.5}
    assert lc.stuck(dead)
    assert not lc.stuck({**dead, "val": [89.0, 89.0, 88.0, 88.0]})  # it moved: judged (and failed)
    assert not lc.stuck({**dead, "val": [2.7] * 4})  # flat but better than the constant: a plateau
    assert lc.stuck({"metric": "acc", "train": [10.0] * 3, "val": [10.0] * 3, "constant_val": 10.0})
