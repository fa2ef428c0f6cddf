"""Sweeps run end to end through the CLI: sweeps.csv, one MLflow parent per sweep cell with a child per
(point, seed) carrying the swept values as params, and a sweep killed by SIGKILL resumes to the same rows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from benchmark.cli import main

VOLATILE = ["wall_time_s", "mlflow_run_id"]
STUDY: dict[str, Any] = {
    "name": "sweep-run",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.4]}},
    "methods": ["ce"],
    "seeds": [1, 2],
    "tuning": {"n_trials": 1, "pruner": "none"},
    "training": {"epochs": 2, "device": "cpu", "threads": 1},
    "sweeps": {"gce-q": {"method": "gce", "grid": {"q": [0.3, 0.5, 0.7]}}},
}


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study run once, uninterrupted, with MLflow tracking."""
    folder = tmp_path_factory.mktemp("sweep")
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    assert main(["run", str(path), "--out", str(folder / "out"), "--no-report", "--quiet"]) == 0
    return folder / "out"


def test_every_point_and_seed_runs_once_into_sweeps_csv(sweep_run: Path) -> None:
    frame = pd.read_csv(sweep_run / "sweeps.csv")
    assert [json.loads(s)["q"] for s in frame["swept"]] == [0.3, 0.3, 0.5, 0.5, 0.7, 0.7]
    assert frame["seed"].tolist() == [1, 2, 1, 2, 1, 2]
    assert frame["slot"].tolist() == list(range(6))
    assert set(frame["protocol"]) == {"sweep"} and set(frame["status"]) == {"ok"}
    assert [json.loads(p)["q"] for p in frame["params"]] == [0.3, 0.3, 0.5, 0.5, 0.7, 0.7]
    assert {json.loads(b)["q"] for b in frame["base"]} == {0.7}  # GCE's default q
    assert len(pd.read_csv(sweep_run / "results.csv")) == 2  # the CE cell alone: sweeps stay out of it


def test_mlflow_parent_per_sweep_cell_and_a_child_per_point_and_seed(sweep_run: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{sweep_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep-run")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [
        r
        for r in runs
        if r.data.tags.get("discrimbench.role") == "cell" and "discrimbench.sweep" in r.data.tags
    ]
    assert [p.data.tags["discrimbench.cell"] for p in parents] == ["digits/sym-excl/0.4/gce@sweep-gce-q"]
    assert parents[0].info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    points = sorted((float(c.data.params["q"]), int(c.data.params["seed"])) for c in children)
    assert points == [(q, s) for q in (0.3, 0.5, 0.7) for s in (1, 2)]
    assert all(c.data.tags["discrimbench.sweep"] == "gce-q" for c in children)
    assert {c.data.tags["discrimbench.role"] for c in children} == {"sweep"}


def _finished(db: Path, name: str) -> int:
    """Finished trials of the sweep study, read from the SQLite file with one cheap query."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0) as conn:
            query = (
                "SELECT COUNT(*) FROM trials JOIN studies USING (study_id) "
                "WHERE study_name LIKE ? AND state IN ('COMPLETE', 'FAIL')"
            )
            return int(conn.execute(query, (f"%{name}",)).fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_mid_sweep_then_resume_equals_uninterrupted(sweep_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(path), "--out", str(out), "--no-report",
           "--quiet", "--tracking-uri", "none"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while _finished(out / "optuna.db", "/sweep") < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the study finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "sweeps.csv").exists()
    subprocess.run(
        cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600
    )
    resumed = pd.read_csv(out / "sweeps.csv").drop(columns=VOLATILE)
    pd.testing.assert_frame_equal(resumed, pd.read_csv(sweep_run / "sweeps.csv").drop(columns=VOLATILE))
