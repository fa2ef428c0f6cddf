"""The parent-run claim of a shared storage: one winner, and a claim left by a dead local process is
taken over at once instead of after the patience (a rerun after a crash between claim and record)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna

from benchmark.study.parents import CLAIM_SUFFIX, claims_parent


def _storage(tmp_path: Path) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")


def _claim_by(storage: optuna.storages.RDBStorage, tune: optuna.Study, owner: str) -> None:
    claim = optuna.create_study(study_name=f"{tune.study_name}{CLAIM_SUFFIX}", storage=storage)
    claim.set_user_attr("discrimbench.claimant", owner)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_first_claim_wins_and_the_second_loses(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    tune = optuna.create_study(study_name="s/cell/tune", storage=storage)
    assert claims_parent(storage, tune) is True
    assert claims_parent(storage, tune) is False  # this process is alive: its claim stands


def test_a_claim_of_a_dead_local_process_is_taken_over(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    tune = optuna.create_study(study_name="s/cell/tune", storage=storage)
    _claim_by(storage, tune, f"{socket.gethostname()}:{_dead_pid()}")
    assert claims_parent(storage, tune) is True
    claim = optuna.load_study(study_name=f"s/cell/tune{CLAIM_SUFFIX}", storage=storage)
    assert claim.user_attrs["discrimbench.claimant"] == f"{socket.gethostname()}:{os.getpid()}"


def test_a_claim_of_another_host_stands(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    tune = optuna.create_study(study_name="s/cell/tune", storage=storage)
    _claim_by(storage, tune, f"elsewhere.example:{_dead_pid()}")
    assert claims_parent(storage, tune) is False  # its liveness cannot be checked from here: wait for it
