"""A cell's MLflow parent run carries its aggregates (read back with mlflow.search_runs from a real store
written by a real study), and the experiment opens on MLflow's runs view."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from benchmark.cell_aggregates import HEADLINE_COLUMNS, cell_aggregates

STUDY = {
    "name": "parents",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.4]}},
    "methods": ["ce", "gce"],
    "seeds": [1, 2, 3],
    "tuning": {"n_trials": 1, "sampler_seed": 3},
    "training": {"epochs": 1, "device": "cpu", "threads": 1},
}


@pytest.mark.slow
def test_parent_runs_carry_aggregates_and_the_experiment_opens_on_runs(tmp_path: Path) -> None:
    import mlflow

    from benchmark.cli import main

    study = tmp_path / "parents.yaml"
    study.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "--no-report", "--quiet"]) == 0
    results = pd.read_csv(out / "results.csv")
    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    try:
        experiment = mlflow.get_experiment_by_name("parents")
        assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
        parents = mlflow.search_runs(
            experiment_names=["parents"], filter_string="tags.`discrimbench.role` = 'cell'"
        )
    finally:
        mlflow.set_tracking_uri(None)
    assert len(parents) == 2 and set(parents["status"]) == {"FINISHED"}
    for _, parent in parents.iterrows():
        rows = results[results["method"] == parent["tags.discrimbench.method"]]
        assert len(rows) == 3
        assert parent["metrics.n_seeds"] == 3
        for col in HEADLINE_COLUMNS:
            values = rows[col].to_numpy(float)
            assert parent[f"metrics.{col}_mean"] == pytest.approx(values.mean())
            assert parent[f"metrics.{col}_std"] == pytest.approx(values.std(ddof=1))
            if np.ptp(values) > 0:
                ci = sps.bootstrap(
                    (values,), np.mean, method="BCa", n_resamples=9999, rng=np.random.default_rng(0)
                ).confidence_interval
                expected = (ci.low, ci.high)
            else:
                expected = (values[0], values[0])
            got = (parent[f"metrics.{col}_ci_low"], parent[f"metrics.{col}_ci_high"])
            assert got == pytest.approx(expected)
        assert parent["metrics.headline_test_acc"] == pytest.approx(rows["test_best_val"].mean())
        assert "best-validation epoch" in parent["tags.discrimbench.headline"]


def test_aggregates_leave_out_what_does_not_exist_and_carry_health_tags() -> None:
    rows = [
        {"status": "ok", "metric": "mae", "test_best_val": 5.0, "test_last": 6.0, "test_oracle": None,
         "health_budget": "ok", "health_note": ""},
        {"status": "ok", "metric": "mae", "test_best_val": 7.0, "test_last": 6.0, "test_oracle": None,
         "health_budget": "ok", "health_note": ""},
        {"status": "failed", "metric": "mae", "test_best_val": 100.0},
    ]  # fmt: skip
    metrics, tags = cell_aggregates(rows)
    assert metrics["n_seeds"] == 2 and metrics["headline_test_mae"] == 6.0
    assert metrics["test_best_val_std"] == pytest.approx(math.sqrt(2.0))
    assert "test_best_val_ci_low" not in metrics  # 2 seeds: no CI, left out rather than NaN
    assert not any(k.startswith("test_oracle") for k in metrics)
    assert metrics["test_last_std"] == 0.0
    assert tags["discrimbench.health_budget"] == "ok" and "discrimbench.health_note" not in tags
    assert cell_aggregates([]) == ({"n_seeds": 0.0}, {})
