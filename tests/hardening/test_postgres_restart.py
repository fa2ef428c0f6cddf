"""PostgreSQL (one file, so that xdist runs these tests one after the other): passwords never reach the
outputs; PostgreSQL restarted during a two-worker study: each worker reconnects or fails with one clean
line, and a re-run completes with every trial and repeat done exactly once. Needs
DISCRIMBENCH_TEST_POSTGRES_URL and DISCRIMBENCH_TEST_PG_CLUSTER ("15 main", for pg_ctlcluster); skipped
without them unless CI=true."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest

from ._helpers import ENV, run_cmd, write_study

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg() -> Iterator[tuple[str, list[str]]]:
    base, cluster = (
        os.environ.get("DISCRIMBENCH_TEST_POSTGRES_URL"),
        os.environ.get("DISCRIMBENCH_TEST_PG_CLUSTER"),
    )
    if not base or not cluster:
        if os.environ.get("CI") == "true":
            pytest.fail("DISCRIMBENCH_TEST_POSTGRES_URL / DISCRIMBENCH_TEST_PG_CLUSTER unset but CI=true")
        pytest.skip("DISCRIMBENCH_TEST_POSTGRES_URL / DISCRIMBENCH_TEST_PG_CLUSTER are not set")
    import sqlalchemy

    name = f"db_restart_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + f"/{name}", ["pg_ctlcluster", *cluster.split(), "restart"]
    for _ in range(30):
        try:
            with admin.connect() as conn:
                conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            break
        except sqlalchemy.exc.OperationalError:
            time.sleep(1)
    admin.dispose()


def _finished_trials(url: str) -> int:
    try:
        storage = optuna.storages.RDBStorage(url)
        return sum(
            sum(
                t.state.is_finished()
                for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials()
            )
            for s in optuna.get_all_study_summaries(storage)
        )
    except Exception:
        return 0


@pytest.mark.xfail(
    reason="a worker hit by the restart ends with the clean one-line error, but Optuna's own trial/heartbeat "
    "code still prints a traceback to stderr before it (issue 7, open)",
    strict=False,
)
def test_restart_during_two_worker_study_then_rerun_loses_nothing(pg, tmp_path: Path) -> None:
    url, restart = pg
    study = write_study(tmp_path, {"storage": {"heartbeat_interval": 1, "grace_period": 4}})
    out = tmp_path / "out"
    cmd = run_cmd(study, out, "--storage", url, "--tracking-uri", "none")
    procs = [
        subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)
    ]
    deadline = time.time() + 120
    while _finished_trials(url) < 2 and time.time() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    subprocess.run(restart, check=True, capture_output=True, timeout=120)
    for p in procs:
        code = p.wait(timeout=300)
        assert p.stderr is not None
        err = p.stderr.read().decode()
        assert "Traceback" not in err, err[-3000:]
        if code != 0:  # failed cleanly: one error line
            lines = [line for line in err.strip().splitlines() if not line.startswith("done ")]
            assert code == 2 and len(lines) == 1 and lines[0].startswith("discrimbench run: error:"), err
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    storage = optuna.storages.RDBStorage(url)
    budgets = {"ce": 1, "gce": 2}
    for summary in optuna.get_all_study_summaries(storage):
        trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
        real = [t for t in trials if not t.user_attrs.get("discrimbench.surplus")]
        if summary.study_name.endswith("/repeats"):
            assert sorted(t.params["seed"] for t in real if "discrimbench.result" in t.user_attrs) == [1, 2]
        else:
            done_slots = [t.user_attrs["discrimbench.slot"] for t in real if t.state.name == "COMPLETE"]
            assert sorted(done_slots) == list(range(budgets[summary.study_name.split("/")[-2]]))
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 4 and frame["run_id"].is_unique and set(frame["status"]) == {"ok"}


PG_ENV = "DISCRIMBENCH_TEST_POSTGRES_URL"


def test_password_never_reaches_outputs_end_to_end(tmp_path: Path) -> None:
    """Security: a study run on PostgreSQL with the password in the study file and on the command line."""
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set but CI=true")
        pytest.skip(f"{PG_ENV} is not set")
    import sqlalchemy

    password = sqlalchemy.engine.make_url(base).password
    assert password, f"{PG_ENV} must carry a password for this test"
    name = f"db_mask_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        small = {"methods": ["ce"], "seeds": [1], "storage": {"optuna": url}}
        study = write_study(tmp_path, small)
        out = tmp_path / "out"
        done = subprocess.run(run_cmd(study, out), env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        again = subprocess.run(
            run_cmd(study, out, "--storage", url), env=ENV, capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0, again.stderr[-2000:]
        leak = f":{password}@"  # the password's place in a URL (the user name may equal it)
        for text in (done.stdout, done.stderr, again.stdout, again.stderr):
            assert leak not in text
        study_json = (out / "study.json").read_text()
        assert leak not in study_json and ":***@" in study_json
        assert json.loads(study_json)["storage"]["optuna"].count("***") == 1
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("small").experiment_id], max_results=100)
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
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
