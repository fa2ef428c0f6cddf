"""End-to-end studies through the CLI with the real engine, Optuna and MLflow stores, resume after SIGKILL,
and a diverging study."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
import yaml

from benchmark.runs import RESULT_COLUMNS

VOLATILE = ["wall_time_s", "mlflow_run_id"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_config: dict) -> Path:
    """The tiny study run once, uninterrupted, with MLflow tracking."""
    from benchmark.cli import main

    folder = tmp_path_factory.mktemp("tiny")
    study = folder / "tiny.yaml"
    study.write_text(yaml.safe_dump(tiny_config))
    assert main(["run", str(study), "--out", str(folder / "out"), "--no-report", "--quiet"]) == 0
    return folder / "out"


def test_results_csv_has_one_row_per_repeat(tiny_run: Path) -> None:
    frame = pd.read_csv(tiny_run / "results.csv")
    assert list(frame.columns) == list(RESULT_COLUMNS)
    assert len(frame) == 2 * 2 * 2  # rates × methods × seeds
    assert set(frame["status"]) == {"ok"}
    assert set(frame["selection"]) == {"noisy-val"}
    assert sorted(frame.groupby(["rate", "method"]).size().tolist()) == [2, 2, 2, 2]
    assert frame.loc[frame["method"] == "ce", "n_trials"].eq(1).all()
    assert frame.loc[frame["method"] == "gce", "n_trials"].eq(2).all()
    # paired comparisons: same noise realisation for every method of a (rate, seed)
    assert frame.groupby(["rate", "seed"])["noisy_labels_sha256"].nunique().eq(1).all()
    assert frame.loc[frame["rate"] == 0.4, "realised_rate"].between(0.3, 0.5).all()
    assert frame["epochs"].eq(1).all()
    assert frame["model"].eq("mlp").all()  # the digits fast recipe


def test_clean_ce_runs_provide_hardness_for_the_other_cells(tiny_run: Path) -> None:
    """The rate-0 CE repeats write a per-sample hardness that the noisy cells' diagnostics use."""
    import numpy as np

    frame = pd.read_csv(tiny_run / "results.csv")
    for seed in (1, 2):
        hardness = np.load(tiny_run / "hardness" / "digits" / f"seed-{seed}.npy")
        assert hardness.ndim == 1 and len(hardness) > 1000 and np.isfinite(hardness).all()
        assert hardness.min() >= 0.0 and hardness.std() > 0.0  # mean CE loss per sample, not constant
    noisy = frame[(frame["rate"] == 0.4) & (frame["method"] == "gce")]
    assert noisy["auroc_noisy_hard"].isna().all()  # untruncated GCE's weights are all ones: no AUROC
    clean = frame[frame["rate"] == 0.0]
    assert clean["auroc_noisy_hard"].isna().all()  # nothing is corrupted at rate 0


def test_study_json_and_optuna_store(tiny_run: Path) -> None:
    info = json.loads((tiny_run / "study.json").read_text())
    assert info["study"] == "tiny" and info["selection"] == ["noisy-val"]
    assert info["environment"]["versions"]["optuna"] == optuna.__version__
    # which CPU kernels torch ran: results repeat bit for bit only on the same capability
    assert info["environment"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    storage = f"sqlite:///{tiny_run / 'optuna.db'}"
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert "tiny/digits/sym-excl/0.4/gce/tune" in names and "tiny/digits/sym-excl/0/ce/repeats" in names
    tune = optuna.load_study(study_name="tiny/digits/sym-excl/0.4/gce/tune", storage=storage)
    trials = tune.get_trials()
    assert len(trials) == 2  # the budget, nothing more
    assert trials[0].params == {"q": 0.7}  # the paper default is trial 0
    reps = optuna.load_study(study_name="tiny/digits/sym-excl/0.4/gce/repeats", storage=storage).get_trials()
    assert sorted(t.params["seed"] for t in reps) == [1, 2]


def test_mlflow_runs_and_tags(tiny_run: Path, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tiny_run / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    roles = pd.Series([r.data.tags.get("discrimbench.role") for r in runs]).value_counts().to_dict()
    assert roles == {"cell": 4, "trial": 6, "repeat": 8}
    parents = {r.info.run_id for r in runs if r.data.tags.get("discrimbench.role") == "cell"}
    repeat = next(r for r in runs if r.data.tags.get("discrimbench.role") == "repeat")
    assert repeat.data.tags["mlflow.parentRunId"] in parents
    for key in ("cell", "dataset", "noise", "rate", "method", "seed", "status"):
        assert f"discrimbench.{key}" in repeat.data.tags
    assert repeat.data.tags["discrimbench.status"] == "ok"
    assert "val/acc" in repeat.data.metrics and "test/acc" in repeat.data.metrics
    history = client.get_metric_history(repeat.info.run_id, "test/acc")
    assert [m.step for m in history] == [0]
    artifacts = {a.path for a in client.list_artifacts(repeat.info.run_id)}
    assert {"config.json", "noise_manifest.json", "environment.json", "sample_weights.npz"} <= artifacts
    env = json.loads(
        Path(client.download_artifacts(repeat.info.run_id, "environment.json", str(tmp_path))).read_text()
    )
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    results = pd.read_csv(tiny_run / "results.csv")
    assert set(results["mlflow_run_id"]) == {
        r.info.run_id for r in runs if r.data.tags["discrimbench.role"] == "repeat"
    }
    # a value the run cannot have is absent, not NaN: no AUROC without a corrupted label (rate 0)
    children = [r for r in runs if r.data.tags["discrimbench.role"] != "cell"]
    assert all(math.isfinite(v) for r in children for v in r.data.metrics.values())
    clean = [r for r in children if float(r.data.tags["discrimbench.rate"]) == 0.0]
    noisy = [r for r in children if float(r.data.tags["discrimbench.rate"]) > 0.0]
    assert clean and all("diag/auroc_noisy_clean" not in r.data.metrics for r in clean)
    assert any("memo/noisy_acc" in r.data.metrics for r in noisy)


def test_rerun_is_idempotent(tiny_run: Path, cli) -> None:
    before = pd.read_csv(tiny_run / "results.csv")
    study = tiny_run.parent / "tiny.yaml"
    code, _, err = cli(
        "run", str(study), "--out", str(tiny_run), "--no-report", "--quiet", "--tracking-uri", "none"
    )
    assert code == 0, err
    storage = f"sqlite:///{tiny_run / 'optuna.db'}"
    tune = optuna.load_study(study_name="tiny/digits/sym-excl/0.4/gce/tune", storage=storage)
    assert len(tune.get_trials()) == 2  # nothing redone
    pd.testing.assert_frame_equal(before, pd.read_csv(tiny_run / "results.csv"))


def _complete_count(db: Path) -> int:
    """Finished trials in the SQLite storage, read with one cheap query so polling never lags the study."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0) as conn:
            query = "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED', 'FAIL')"
            return int(conn.execute(query).fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tiny_run: Path, tmp_path: Path) -> None:
    study = tiny_run.parent / "tiny.yaml"
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(study), "--out", str(out), "--no-report",
           "--quiet", "--tracking-uri", "none"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _complete_count(out / "optuna.db") < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the study finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.csv").exists()
    subprocess.run(
        cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300
    )
    resumed = pd.read_csv(out / "results.csv").drop(columns=VOLATILE)
    pd.testing.assert_frame_equal(resumed, pd.read_csv(tiny_run / "results.csv").drop(columns=VOLATILE))
    storage = f"sqlite:///{out / 'optuna.db'}"
    for summary in optuna.get_all_study_summaries(storage):
        trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
        done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        if summary.study_name.endswith("/repeats"):
            assert sorted(t.params["seed"] for t in done) == [1, 2], summary.study_name
        else:
            slots = [t.user_attrs["discrimbench.slot"] for t in done]
            assert len(slots) == len(set(slots)), summary.study_name  # no slot ran twice


def test_diverging_trials_fail_with_reason_and_the_study_completes(write_study, cli, tmp_path: Path) -> None:
    training = {"epochs": 1, "device": "cpu", "threads": 1, "recipe": {"lr": 1.0e30}}  # diverges at once
    path = write_study(
        {"methods": ["gce"], "noises": {"sym-excl": {"rates": [0.2]}}, "seeds": [1], "training": training}
    )
    out = tmp_path / "div"
    code, _, err = cli(
        "run", str(path), "--out", str(out), "--no-report", "--quiet", "--tracking-uri", "none"
    )
    assert code == 0, err
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 1 and frame.loc[0, "status"] == "failed" and isinstance(frame.loc[0, "reason"], str)
    tune = optuna.load_study(
        study_name="tiny/digits/sym-excl/0.2/gce/tune", storage=f"sqlite:///{out / 'optuna.db'}"
    )
    trials = tune.get_trials()
    assert len(trials) == 2
    assert all(t.state == optuna.trial.TrialState.FAIL for t in trials)
    assert all(t.user_attrs.get("discrimbench.reason") for t in trials)


def test_tracking_none_writes_no_mlflow_store(write_study, cli, tmp_path: Path) -> None:
    path = write_study({"methods": ["ce"], "noises": {"sym-excl": {"rates": [0.2]}}, "seeds": [1]})
    out = tmp_path / "nomlflow"
    code, _, err = cli(
        "run", str(path), "--out", str(out), "--no-report", "--quiet", "--tracking-uri", "none"
    )
    assert code == 0, err
    assert not (out / "mlflow.db").exists() and (out / "results.csv").exists()
