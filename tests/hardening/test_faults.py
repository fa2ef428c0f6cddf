"""Faults: SIGKILL at seeded random moments then resume, local workers, and an output folder that cannot be
written (read-only or full): one clear line, exit 2, and nothing already recorded changes."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest

from benchmark.testing import assert_each_slot_and_seed_once, without_health_warning
from benchmark.tuning import ATTR

from ._helpers import ENV, VOLATILE, run_cmd, snapshot, write_study


def _assert_same_results(out: Path, reference: Path) -> None:
    got = pd.read_csv(out / "results.csv").drop(columns=VOLATILE)
    pd.testing.assert_frame_equal(got, pd.read_csv(reference / "results.csv").drop(columns=VOLATILE))


def _assert_exactly_once(storage: Any) -> None:
    assert len(optuna.get_all_study_summaries(storage)) == 4
    assert_each_slot_and_seed_once(storage, budgets={"ce": 1, "gce": 2}, seeds=[1, 2])


def test_three_seeded_sigkills_then_resume_equal_an_uninterrupted_run(
    finished_study: Path, tmp_path: Path
) -> None:
    rng = random.Random(20231)
    study = write_study(tmp_path)
    out = tmp_path / "out"
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(
            run_cmd(study, out), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.time() + 120
        while not (out / "optuna.db").exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 2.5))  # a seeded random moment after the stores exist
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert "Traceback" not in err, err[-2000:]
    assert kills >= 2, "the study finished before it could be killed twice"
    done = subprocess.run(run_cmd(study, out), env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_same_results(out, finished_study)
    _assert_exactly_once(f"sqlite:///{out / 'optuna.db'}")
    by_id = {r.info.run_id: r for r in _mlflow_runs(out)}  # the MLflow store stays readable
    for run_id in pd.read_csv(out / "results.csv")["mlflow_run_id"]:
        assert by_id[run_id].info.status == "FINISHED"
        assert by_id[run_id].data.tags["discrimbench.role"] == "repeat"


def test_two_local_workers_equal_one(finished_study: Path, tmp_path: Path) -> None:
    study = write_study(tmp_path)
    out = tmp_path / "out"
    done = subprocess.run(
        run_cmd(study, out, "--workers", "2", "--tracking-uri", "none"),
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "optuna.journal").exists() and not (out / "optuna.db").exists()
    _assert_same_results(out, finished_study)
    _assert_exactly_once(_journal(out))


def _journal(out: Path) -> Any:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(out / "optuna.journal")))


def _mlflow_runs(out: Path) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    return client.search_runs([client.get_experiment_by_name("small").experiment_id], max_results=1000)


def test_two_local_workers_with_mlflow_log_every_run_once(finished_study: Path, tmp_path: Path) -> None:
    """Both workers log through the one MLflow writer of the process that started them: every trial and
    repeat has exactly one finished child run under its cell's parent, and the results point at them."""
    study = write_study(tmp_path)
    out = tmp_path / "out"
    done = subprocess.run(
        run_cmd(study, out, "--workers", "2"), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warning" not in without_health_warning(done.stderr).lower(), done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]  # the writer process ends cleanly too
    _assert_same_results(out, finished_study)
    runs = _mlflow_runs(out)
    roles = pd.Series([r.data.tags.get("discrimbench.role") for r in runs]).value_counts().to_dict()
    assert roles == {"cell": 2, "trial": 3, "repeat": 4}  # ce: 1 trial, gce: 2; 2 seeds each
    parents = {r.info.run_id for r in runs if r.data.tags["discrimbench.role"] == "cell"}
    children = [r for r in runs if r.data.tags["discrimbench.role"] != "cell"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all(r.data.tags["mlflow.parentRunId"] in parents for r in children)
    assert all("test/acc" in r.data.metrics for r in children)
    repeats = {r.info.run_id for r in children if r.data.tags["discrimbench.role"] == "repeat"}
    assert set(pd.read_csv(out / "results.csv")["mlflow_run_id"]) == repeats
    trial_runs = {r.info.run_id for r in children if r.data.tags["discrimbench.role"] == "trial"}
    # workers that claim a cell's last slot together start a surplus trial, which trains nothing
    counted = [t for t in _trials(_journal(out), "/tune") if not t.user_attrs.get(ATTR["surplus"])]
    assert {t.user_attrs["discrimbench.mlflow_run_id"] for t in counted} == trial_runs


def _trials(storage: Any, suffix: str = "") -> list[optuna.trial.FrozenTrial]:
    """Every trial of the storage's studies whose name ends with ``suffix``."""
    return [
        t
        for s in optuna.get_all_study_summaries(storage)
        if s.study_name.endswith(suffix)
        for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials()
    ]


def _running_trials(out: Path) -> int:
    if not (out / "optuna.journal").exists():
        return 0
    return sum(t.state == optuna.trial.TrialState.RUNNING for t in _trials(_journal(out)))


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has already died


def test_killing_the_parent_of_two_workers_stops_them_and_a_rerun_completes(
    finished_study: Path, tmp_path: Path
) -> None:
    """SIGKILL of ``discrimbench run --workers 2``: its workers die with it (their trials stay RUNNING
    under dead owners rather than failing), and the same command then completes the study exactly."""
    if not Path("/proc/self/task").exists():
        pytest.skip("needs Linux /proc")
    study = write_study(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        run_cmd(study, out, "--workers", "2"), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not _running_trials(out):
        time.sleep(0.1)  # until a worker is inside a trial
    assert proc.poll() is None, "the study finished before it could be killed"
    workers = _children(proc.pid)  # the two workers, the MLflow writer, multiprocessing's tracker
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "a worker outlived the killed study"
    assert _running_trials(out) >= 1  # left to the re-run, not finished by orphaned workers
    done = subprocess.run(
        run_cmd(study, out, "--workers", "2"), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_same_results(out, finished_study)
    _assert_exactly_once(_journal(out))


# ---- an output folder that cannot be written ---------------------------------------------------------


def _copy(finished: Path, dest: Path) -> Path:
    shutil.copytree(finished, dest)
    (dest / "study.yaml").write_text((finished.parent / "study.yaml").read_text())
    return dest


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable: chmod for a normal user; a read-only bind mount for root."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("running as root and cannot bind-mount read-only: permissions would not apply")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True, capture_output=True)


def _one_error_line(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2, (out, err)
    lines = [line for line in err.strip().splitlines() if not line.startswith("done ")]  # finished cells
    assert len(lines) == 1 and lines[0].startswith("discrimbench "), err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_read_only_study_folder_rerun_and_report_fail_cleanly(
    finished_study: Path, tmp_path: Path, cli
) -> None:
    folder = _copy(finished_study, tmp_path / "ro")
    before = snapshot(folder)
    with _read_only(folder):
        args = ("run", str(folder / "study.yaml"), "--out", str(folder), "--no-report", "--quiet")
        _one_error_line(*cli(*args, "--tracking-uri", "none"), str(folder))
        _one_error_line(*cli(*args), str(folder))  # with the MLflow store in the same folder
        _one_error_line(*cli("report", str(folder)), str(folder))
    assert snapshot(folder) == before


def test_disk_full_on_results_write_keeps_the_old_results(finished_study: Path, tmp_path: Path, cli) -> None:
    """ENOSPC without a real full disk: the atomic write's temporary file is a link to /dev/full (every
    write to it fails with ENOSPC), so the run gets exactly the error a full disk gives."""
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available")
    folder = _copy(finished_study, tmp_path / "full")
    before = snapshot(folder)
    (folder / f".results.csv.{os.getpid()}.tmp").symlink_to("/dev/full")
    code, out, err = cli(
        "run",
        str(folder / "study.yaml"),
        "--out",
        str(folder),
        "--no-report",
        "--quiet",
        "--tracking-uri",
        "none",
    )
    _one_error_line(code, out, err, "results.csv", "No space left on device")
    assert snapshot(folder) == before
    assert not (folder / f".results.csv.{os.getpid()}.tmp").exists()  # the partial file is cleaned up


def test_disk_full_on_a_real_tiny_tmpfs(finished_study: Path, tmp_path: Path) -> None:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); see the /dev/full variant")
    try:
        folder = _copy(finished_study, mount / "study")
        (folder / "results.csv").unlink()  # the re-run must write it: there is no room left
        before = snapshot(folder)
        with open(mount / "filler", "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        done = subprocess.run(
            [*run_cmd(folder / "study.yaml", folder, "--tracking-uri", "none")],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=300,
        )
        _one_error_line(done.returncode, done.stdout, done.stderr, "No space left on device")
        assert snapshot(folder) == before
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
