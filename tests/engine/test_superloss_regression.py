"""The measured cause of SuperLoss's dead DigitSum regressor (docs/recipes.md section 5), kept as a test so
that a change of the model, the recipe or SuperLoss's regression mapping that alters it is noticed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "superloss_regression.py"
_spec = importlib.util.spec_from_file_location("superloss_regression", _SCRIPT)
assert _spec is not None and _spec.loader is not None
sr = importlib.util.module_from_spec(_spec)
sys.modules["superloss_regression"] = sr  # a script, not a module of the package: loaded by its path
_spec.loader.exec_module(sr)


def test_superloss_ema_lambda_1_kills_the_digitsum_relu_in_its_first_epoch() -> None:
    rows = sr.trace("digitsum", "superloss", {"tau_mode": "ema"}, epochs=1, every=1000)
    steps = [r for r in rows if "step" in r]
    first = steps[0]
    # λ = 1 against MSE values of order 10³: σ* is all-or-nothing (e at the clamp, or far below 0.05)
    assert first["share_sigma_ge1"] >= 0.4 and first["share_sigma_lt005"] >= 0.3
    assert first["sigma_max"] > 2.7
    # no training sample passes a gradient from some step of the first epoch on, and no validation input
    assert any(r["alive"] == 0.0 for r in steps) and steps[-1]["alive"] == 0.0
    end = rows[-1]
    assert end["val_alive"] == 0.0 and end["val_pre_max"] < 0.0
