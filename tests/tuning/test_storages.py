"""The storage layer on Optuna's public API: a refused connection is retried only after the database was
reached once, the heartbeat thread rides out a lost database, and a stale trial is failed and retried
through ``optuna.storages.fail_stale_trials`` with the same parameters and slot, the original then holding
no budget slot. Real SQLite files through SQLAlchemy (the DBAPI refuses a file in a missing folder as it
refuses a stopped server), no mocks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import optuna
import pytest

from benchmark.tuning import (
    ATTR,
    ReconnectingRDBStorage,
    budget_trials,
    is_connection_error,
    open_storage,
    retried_numbers,
)

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning", "ignore:Heartbeat")


def _trial_id(storage: optuna.storages.BaseStorage, trial: optuna.Trial) -> int:
    """The storage's id of ``trial``, through the public storage API."""
    study_id = storage.get_study_id_from_name(trial.study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)


def _storage(folder: Path, patience_s: float) -> ReconnectingRDBStorage:
    return ReconnectingRDBStorage(
        f"sqlite:///{folder / 'optuna.db'}", heartbeat_interval=1, grace_period=2, patience_s=patience_s
    )


def test_the_first_connection_fails_at_once(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(Exception, match="unable to open database file"):
        _storage(tmp_path / "missing", patience_s=30.0)  # never reached: a wrong address is not waited for
    assert time.monotonic() - t0 < 10.0


def test_a_lost_database_is_waited_for_then_given_up_after_the_patience(tmp_path: Path) -> None:
    folder, away = tmp_path / "db", tmp_path / "away"
    folder.mkdir()
    storage = _storage(folder, patience_s=30.0)
    study = optuna.create_study(storage=storage, study_name="s")
    trial_id = _trial_id(storage, study.ask())
    storage.engine.dispose()  # drop pooled connections: the next call must connect again
    folder.rename(away)  # the database is gone (the DBAPI refuses to connect) ...
    back = threading.Timer(0.6, away.rename, args=(folder,))  # ... and comes back
    back.start()
    t0 = time.monotonic()
    assert storage.get_trial(trial_id).state == optuna.trial.TrialState.RUNNING
    assert time.monotonic() - t0 >= 0.5
    back.join()

    impatient = _storage(folder, patience_s=0.4)
    impatient.engine.dispose()
    folder.rename(away)
    t0 = time.monotonic()
    with pytest.raises(optuna.exceptions.StorageInternalError) as lost:
        impatient.get_trial(trial_id)  # the main thread is told, after the patience
    assert 0.4 <= time.monotonic() - t0 < 10.0
    assert is_connection_error(lost.value) and not is_connection_error(ValueError("no trial"))
    impatient.record_heartbeat(trial_id)  # the heartbeat thread is not: it goes on beating


def test_a_stale_trial_is_failed_and_retried_with_its_parameters_and_slot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = ReconnectingRDBStorage(
        url,
        heartbeat_interval=1,
        grace_period=1,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None),
    )
    study = optuna.create_study(storage=storage, study_name="s")
    dead = study.ask()
    dead.suggest_float("lr", 0.1, 1.0)
    dead.set_user_attr(ATTR["slot"], 0)
    storage.record_heartbeat(_trial_id(storage, dead))  # then the worker dies: no more beats
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    original, retry = trials
    assert retry.params == original.params and retry.user_attrs[ATTR["slot"]] == 0
    assert retried_numbers(trials) == {original.number}
    assert budget_trials(trials) == []  # the original holds no slot, the WAITING retry none yet


def test_open_storage_names_what_it_refuses() -> None:
    from benchmark.errors import TrackingError

    with pytest.raises(TrackingError, match="not supported"):
        open_storage("redis://localhost/0")
    with pytest.raises(TrackingError, match=r"cannot open Optuna storage postgresql://u:\*\*\*@"):
        open_storage("postgresql://u:secret@127.0.0.1:1/db")
