"""Many workers on PostgreSQL: every planned trial and repeat runs exactly once, and a killed worker's trial
is retried by the survivor (heartbeat + grace period). Needs DISCRIMBENCH_TEST_POSTGRES_URL (a role that can
CREATE DATABASE); skipped without it locally, failed without it when CI=true."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.postgres
ENV = "DISCRIMBENCH_TEST_POSTGRES_URL"


@pytest.fixture
def pg_url() -> Any:
    base = os.environ.get(ENV)
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{ENV} is not set but CI=true: the PostgreSQL tests must run in CI")
        pytest.skip(f"{ENV} is not set")
    import sqlalchemy

    name = f"db_study_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _study(tmp_path: Path, tiny_config: dict) -> Path:
    cfg = {**tiny_config, "storage": {"heartbeat_interval": 1, "grace_period": 4}}
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _workers(study: Path, url: str, out: Path, n: int = 2) -> list[subprocess.Popen[bytes]]:
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(study), "--storage", url, "--out", str(out),
           "--tracking-uri", "none", "--no-report", "--quiet"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(n)
    ]


def _check_exactly_once(url: str, out: Path) -> None:
    storage = optuna.storages.RDBStorage(url)
    budgets = {"ce": 1, "gce": 2}
    for summary in optuna.get_all_study_summaries(storage):
        trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
        real = [t for t in trials if not t.user_attrs.get("discrimbench.surplus")]
        if summary.study_name.endswith("/repeats"):
            seeds = [t.params["seed"] for t in real if "discrimbench.result" in t.user_attrs]
            assert sorted(seeds) == [1, 2], summary.study_name
        else:
            method = summary.study_name.split("/")[-2]
            done = [t for t in real if t.state.is_finished() and "discrimbench.slot" in t.user_attrs]
            slots = sorted(t.user_attrs["discrimbench.slot"] for t in done if t.state.name == "COMPLETE")
            assert slots == list(range(budgets[method])), summary.study_name
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 8 and frame["run_id"].is_unique


def test_two_workers_run_everything_once(pg_url: str, tmp_path: Path, tiny_config: dict) -> None:
    out = tmp_path / "out"
    procs = _workers(_study(tmp_path, tiny_config), pg_url, out)
    for p in procs:
        assert p.wait(timeout=400) == 0, p.stderr.read().decode()[-2000:] if p.stderr else ""
    _check_exactly_once(pg_url, out)


def test_killed_worker_is_taken_over(pg_url: str, tmp_path: Path, tiny_config: dict) -> None:
    out = tmp_path / "out"
    study = _study(tmp_path, tiny_config)
    victim, survivor = _workers(study, pg_url, out)
    storage = optuna.storages.RDBStorage(pg_url)
    deadline = time.time() + 200
    killed = False
    while time.time() < deadline and not killed:
        time.sleep(0.2)
        try:
            summaries = optuna.get_all_study_summaries(storage)
        except Exception:
            continue
        for s in summaries:
            running = optuna.load_study(study_name=s.study_name, storage=storage).get_trials(
                states=(optuna.trial.TrialState.RUNNING,)
            )
            if any(
                str(t.user_attrs.get("discrimbench.owner", "")).endswith(f":{victim.pid}") for t in running
            ):
                os.kill(victim.pid, signal.SIGKILL)
                killed = True
                break
    assert killed, "the victim never held a running trial"
    victim.wait()
    assert survivor.wait(timeout=400) == 0, survivor.stderr.read().decode()[-2000:] if survivor.stderr else ""
    _check_exactly_once(pg_url, out)
