"""Many workers on PostgreSQL: every planned trial and repeat runs exactly once, a killed worker's trial is
retried by the survivor (heartbeat + grace period), passwords never reach the outputs, and a restart of the
server during a two-worker study loses nothing. Needs DISCRIMBENCH_TEST_POSTGRES_URL (a role that can CREATE
DATABASE) and, for the restart, DISCRIMBENCH_TEST_PG_CLUSTER ("15 main", for pg_ctlcluster); skipped without
them locally, failed without them when CI=true.

The restart test is marked ``restarts_postgres``: it holds the server alone, so it never hits another test's
database (tests/distributed/test_multi_machine.py may run on the other xdist worker)."""

from __future__ import annotations

import json
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

from benchmark.testing import assert_each_slot_and_seed_once, describe_storage, without_health_warning

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
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + f"/{name}"
    for _ in range(30):  # the server may still be coming back from the restart test
        try:
            with admin.connect() as conn:
                conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            break
        except sqlalchemy.exc.OperationalError:
            time.sleep(1)
    admin.dispose()


def _study(tmp_path: Path, tiny_config: dict, **changes: Any) -> Path:
    cfg = {**tiny_config, "storage": {"heartbeat_interval": 1, "grace_period": 4}, **changes}
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


RUN_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _cmd(study: Path, url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "benchmark.cli", "run", str(study), "--storage", url, "--out", str(out),
            "--tracking-uri", "none", "--no-report", "--quiet"]  # fmt: skip


def _workers(study: Path, url: str, out: Path, n: int = 2) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            _cmd(study, url, out), env=RUN_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(n)
    ]


def _check_exactly_once(url: str, out: Path, rows: int = 8) -> None:
    assert_each_slot_and_seed_once(optuna.storages.RDBStorage(url), budgets={"ce": 1, "gce": 2}, seeds=[1, 2])
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == rows and frame["run_id"].is_unique and set(frame["status"]) == {"ok"}


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


def test_password_never_reaches_outputs_end_to_end(pg_url: str, tmp_path: Path, tiny_config: dict) -> None:
    """Security: a study run on PostgreSQL with the password in the study file and on the command line."""
    from mlflow.tracking import MlflowClient
    from sqlalchemy.engine import make_url

    password = make_url(pg_url).password
    assert password, f"{ENV} must carry a password for this test"
    small = {"methods": ["ce"], "seeds": [1], "noises": {"sym-excl": {"rates": [0.4]}}}
    study = _study(tmp_path, tiny_config, **small, storage={"optuna": pg_url})
    out = tmp_path / "out"
    base = [sys.executable, "-m", "benchmark.cli", "run", str(study), "--out", str(out), "--no-report",
            "--quiet"]  # fmt: skip
    done = subprocess.run(base, env=RUN_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    again = subprocess.run(
        [*base, "--storage", pg_url], env=RUN_ENV, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-2000:]
    leak = f":{password}@"  # the password's place in a URL (the user name may equal it)
    for text in (done.stdout, done.stderr, again.stdout, again.stderr):
        assert leak not in text
    study_json = (out / "study.json").read_text()
    assert leak not in study_json and ":***@" in study_json
    assert json.loads(study_json)["storage"]["optuna"].count("***") == 1
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id], max_results=100)
    assert runs
    for run in runs:
        assert leak not in json.dumps([run.data.params, run.data.tags])
        for artifact in client.list_artifacts(run.info.run_id):
            if artifact.path.endswith(".json"):
                local = client.download_artifacts(run.info.run_id, artifact.path, str(tmp_path / "dl"))
                assert leak not in Path(local).read_text(), artifact.path
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".csv", ".yaml", ".txt", ".md"}:
            assert leak not in path.read_text(errors="replace"), path


def _finished_trials(engine: Any) -> int:
    """Finished trials over all studies of the database (0 while it is unreachable or still empty)."""
    import sqlalchemy

    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED', 'FAIL')"
            return int(conn.execute(sqlalchemy.text(query)).scalar() or 0)
    except sqlalchemy.exc.SQLAlchemyError:
        return 0


@pytest.mark.restarts_postgres
def test_restart_during_two_worker_study_then_rerun_loses_nothing(
    pg_url: str, tmp_path: Path, tiny_config: dict
) -> None:
    """Issue 7: PostgreSQL restarted while two workers are mid-study. Each worker reconnects and goes on, or
    fails with one clean line (exit code 2) and no traceback; a re-run of the same command then completes
    with every planned trial and repeat done exactly once. Kept last in the file: it restarts the server."""
    import sqlalchemy

    cluster = os.environ.get("DISCRIMBENCH_TEST_PG_CLUSTER")
    if not cluster:
        if os.environ.get("CI") == "true":
            pytest.fail("DISCRIMBENCH_TEST_PG_CLUSTER is not set but CI=true")
        pytest.skip("DISCRIMBENCH_TEST_PG_CLUSTER is not set")
    out = tmp_path / "out"
    study = _study(tmp_path, tiny_config, noises={"sym-excl": {"rates": [0.4]}})  # 3 trials + 4 repeats
    procs = _workers(study, pg_url, out)
    engine = sqlalchemy.create_engine(pg_url, pool_pre_ping=True)
    deadline = time.time() + 200
    while _finished_trials(engine) < 1 and time.time() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.1)
    engine.dispose()
    assert all(p.poll() is None for p in procs), "a worker ended before the restart: the test proves nothing"
    subprocess.run(
        ["pg_ctlcluster", *cluster.split(), "restart"], check=True, capture_output=True, timeout=120
    )
    for p in procs:
        try:
            code = p.wait(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            pytest.fail(f"a worker hung after the restart:\n{describe_storage(pg_url)}")
        err = p.stderr.read().decode() if p.stderr else ""
        assert "Traceback" not in err, err[-3000:]
        shown = without_health_warning(err).strip().splitlines()  # 1-epoch runs: the warning is expected
        lines = [line for line in shown if not line.startswith("done ")]
        if code != 0:  # failed cleanly: one error line
            assert code == 2 and len(lines) == 1 and lines[0].startswith("discrimbench run: error:"), err
        else:
            assert not lines, err
    try:
        rerun = subprocess.run(
            _cmd(study, pg_url, out), env=RUN_ENV, capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the re-run hung:\n{describe_storage(pg_url)}")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    _check_exactly_once(pg_url, out, rows=4)
