"""Curve and tuning figures end to end from real stores: an MLflow SQLite store with the contract's tags,
metrics and artifacts, and an Optuna SQLite storage with the contract's study names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from benchmark.naming import sqlite_path
from benchmark.report import make_report
from benchmark.report.sources import load_histories, load_tuning
from tests.report.conftest import write_mlflow_store


def _optuna_store(study_dir: Path, url: str = "") -> str:
    """Two tuned cells (gce: 20 completed trials, ce: 1) in a SQLite file, or in the journal file ``url``."""
    url = url or f"sqlite:///{study_dir / 'optuna.db'}"
    storage: Any = url
    if url.endswith(".journal"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage = JournalStorage(JournalFileBackend(url))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for method, values in (
        ("gce", [60.0, 70.0, 65.0, 80.0, 61.0, 72.0, 66.0, 79.0, 63.0, 75.0] * 2),  # 20: the threshold
        ("ce", [62.0]),
    ):
        study = optuna.create_study(
            study_name=f"fixture/mnist/permute-block/0.4/{method}/tune", storage=storage, direction="maximize"
        )
        for i, value in enumerate(values):
            dist = {"q": optuna.distributions.FloatDistribution(0.1, 1.0)} if method == "gce" else {}
            params = {"q": 0.1 + 0.045 * i} if method == "gce" else {}
            study.add_trial(optuna.trial.create_trial(params=params, distributions=dist, value=value))
    return url


@pytest.mark.slow
def test_curves_weights_and_tuning_from_real_stores(study_dir: Path) -> None:
    uri = write_mlflow_store(study_dir)
    url = _optuna_store(study_dir)
    hist = load_histories(uri, "fixture")
    assert hist.note == "" and len(hist.runs) == 4
    assert sorted(hist.curves["epoch"].unique()) == [0, 1, 2]
    dl_run = hist.runs[hist.runs["method"] == "discrimloss"]["run_id"].iloc[0]
    weights, corrupted, hardness = hist.sample_weights(dl_run)
    assert corrupted.sum() == 8 and weights[corrupted].max() == 0.2 and hardness is not None
    cells, note = load_tuning(url, "fixture")
    by_method = {c.method: c for c in cells}
    assert note == "" and by_method["gce"].values[:4] == [60.0, 70.0, 65.0, 80.0]
    assert list(by_method["gce"].importances) == ["q"]
    refused = "importances not drawn: 1 completed tuning trial(s) (≥ 20 required for fANOVA)"
    assert by_method["ce"].note == refused

    out = make_report(study_dir, formats=("md",), references=[])
    names = sorted(p.stem for p in (out / "figures").glob("*.png"))
    for name in ("memorisation_mnist_permute-block_0.4", "auroc_mnist_permute-block_0.4",
                 "weights_mnist_permute-block_0.4", "tuning_mnist_permute-block_0.4",
                 "weight_evolution_mnist_permute-block_0.4",
                 "importances_mnist_permute-block_0.4"):  # fmt: skip
        assert name in names
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "no MLflow store" not in md and refused in md
    assert (
        "Hyperparameter importances (fANOVA) of the tuning, mnist/permute-block/0.4, from the completed "
        in md
    )
    assert "(gce 20; ≥ 20 required)" in md  # the count each importance plot comes from
    assert "Hyperparameter sensitivity" not in md  # no sweeps.csv: no sensitivity section


def test_tuning_from_a_journal_file(tmp_path: Path) -> None:
    """``--workers`` studies keep their trials in a journal file: the report reads it like a database, and
    a journal that is not there is reported, never created."""
    url = _optuna_store(tmp_path, str(tmp_path / "optuna.journal"))
    cells, note = load_tuning(url, "fixture")
    assert note == "" and sorted(c.method for c in cells) == ["ce", "gce"]
    assert [len(c.values) for c in sorted(cells, key=lambda c: c.method)] == [1, 20]
    missing = tmp_path / "absent.journal"
    assert load_tuning(str(missing), "fixture") == (
        [],
        f"no Optuna storage at {missing}: tuning figures skipped",
    )
    assert not missing.exists()


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+pysqlite"])
def test_a_missing_sqlite_store_is_reported_never_created(tmp_path: Path, scheme: str) -> None:
    """Any SQLite URL (with a driver too) names a file: when it is absent the report says so and skips
    those figures instead of letting MLflow or Optuna create an empty store in the study folder."""
    path = tmp_path / "absent.db"
    url = f"{scheme}:///{path}?timeout=5"
    assert sqlite_path(url) == path
    assert load_tuning(url, "fixture") == ([], f"no Optuna storage at {path}: tuning figures skipped")
    assert load_histories(url, "fixture").note == f"no MLflow store at {path}: curve figures skipped"
    assert not any(tmp_path.iterdir())
    assert sqlite_path("sqlite:///:memory:") is None and sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql://u@h/db") is None
