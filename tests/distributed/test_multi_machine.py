"""The README's multi-machine recipe, run as written: one PostgreSQL server holding the Optuna database and
the MLflow tracking server's database, ``mlflow server`` with the README's flags, and two ``discrimbench run``
processes with the same command line, each with its own output folder as on its own machine. Every planned
trial and repeat runs exactly once, both machines end with the whole results.csv, and every run is in the
tracking server under its cell's single parent run.

Needs DISCRIMBENCH_TEST_POSTGRES_URL (a role that can CREATE DATABASE): skipped without it locally, failed
without it when CI=true (.ci/run starts the server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from benchmark.testing import assert_each_slot_and_seed_once

pytestmark = pytest.mark.postgres
ENV = "DISCRIMBENCH_TEST_POSTGRES_URL"
STUDY = {
    "name": "multi",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.0, 0.4]}},
    "methods": ["ce", "gce"],
    "seeds": [1, 2],
    "tuning": {"n_trials": 2, "sampler_seed": 3},
    "training": {"epochs": 1, "device": "cpu", "threads": 1},
    "storage": {"heartbeat_interval": 1, "grace_period": 4},
}


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases on the test server (the recipe's Optuna one and MLflow one), dropped after."""
    base = os.environ.get(ENV)
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{ENV} is not set but CI=true: the multi-machine test must run in CI")
        pytest.skip(f"{ENV} is not set")
    import sqlalchemy

    names = [f"db_multi_{kind}_{uuid.uuid4().hex[:10]}" for kind in ("optuna", "mlflow")]
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    root = base.rsplit("/", 1)[0]
    yield f"{root}/{names[0]}", f"{root}/{names[1]}"
    with admin.connect() as conn:
        for name in names:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End a process started in its own session, with its children (the server's uvicorn workers)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tracking_server(backend: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The README's ``mlflow server`` command (loopback, metadata in PostgreSQL, artifacts served)."""
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", backend, "--artifacts-destination", str(folder / "mlartifacts"),
               "--serve-artifacts", "--workers", "1"]  # fmt: skip
    log = (folder / "mlflow-server.log").open("wb")
    server = subprocess.Popen(command, cwd=folder, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 240  # it imports for tens of seconds on a loaded machine
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                if server.poll() is None:
                    _stop(server)
                pytest.fail(
                    f"mlflow server did not start:\n{(folder / 'mlflow-server.log').read_text()[-3000:]}"
                )
            time.sleep(0.5)


def _run_command(study: Path, optuna_url: str, tracking: str) -> list[str]:
    """The README's worker command, run in the machine's folder (``--out`` relative to it)."""
    return [sys.executable, "-m", "benchmark.cli", "run", str(study), "--storage", optuna_url,
            "--tracking-uri", tracking, "--out", "results/multi", "--no-report", "--quiet"]  # fmt: skip


def test_two_machines_share_one_study_through_postgres(databases: tuple[str, str], tmp_path: Path) -> None:
    optuna_url, mlflow_url = databases
    study = tmp_path / "multi.yaml"
    study.write_text(yaml.safe_dump(STUDY))
    server, tracking = _tracking_server(mlflow_url, tmp_path)
    try:
        machines = [tmp_path / name for name in ("machine-a", "machine-b")]
        for machine in machines:
            machine.mkdir()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        pipe = subprocess.PIPE
        workers = [
            subprocess.Popen(
                _run_command(study, optuna_url, tracking), cwd=m, env=env, stdout=pipe, stderr=pipe
            )
            for m in machines
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=600)
            assert worker.returncode == 0, err.decode()[-3000:]
        frames = [pd.read_csv(m / "results" / "multi" / "results.csv") for m in machines]
        runs = _tracking_runs(tracking)
    finally:
        _stop(server)

    assert_each_slot_and_seed_once(optuna_url, budgets={"ce": 1, "gce": 2}, seeds=[1, 2])
    first, second = (f.sort_values("run_id").reset_index(drop=True) for f in frames)
    assert len(first) == 8 and set(first["status"]) == {"ok"} and first["run_id"].is_unique
    pd.testing.assert_frame_equal(first, second)  # both machines report the whole study

    by_id = {r.info.run_id: r for r in runs}
    assert all(by_id[i].info.status == "FINISHED" and by_id[i].data.metrics for i in first["mlflow_run_id"])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]  # trials and repeats
    assert len(children) == 8 + 2 * (1 + 2)  # repeats + trials (ce 1, gce 2 per rate), whoever ran them
    by_cell: dict[str, set[str]] = {}
    for child in children:
        by_cell.setdefault(child.data.tags["discrimbench.cell"], set()).add(
            child.data.tags["mlflow.parentRunId"]
        )
    assert sorted(by_cell) == sorted(f"digits/sym-excl/{r}/{m}" for r in ("0", "0.4") for m in ("ce", "gce"))
    assert all(len(ids) == 1 for ids in by_cell.values()), by_cell  # one parent per cell, never split
    chosen = {cell: next(iter(ids)) for cell, ids in by_cell.items()}
    for parent in chosen.values():  # each cell's parent closed with its aggregates
        assert by_id[parent].info.status == "FINISHED" and "test_best_val_mean" in by_id[parent].data.metrics
    spare = [
        r.info.run_name
        for r in runs
        if "mlflow.parentRunId" not in r.data.tags and r.info.run_id not in chosen.values()
    ]
    assert spare == []  # machines that start together claim each cell's parent run once


def _tracking_runs(uri: str) -> list[Any]:
    from benchmark._mlflow_writer import open_client

    client = open_client(uri)
    experiment = client.get_experiment_by_name("multi")
    return list(client.search_runs([experiment.experiment_id], max_results=1000))
