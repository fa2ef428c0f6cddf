"""A trial stopped by something outside its method (Ctrl-C, SIGTERM, a database connection lost in
mid-statement) spends no budget slot: Optuna records it FAIL, the worker queues it again at once with the same
parameters and slot, and a slot queued twice runs once. On a real SQLite Optuna storage."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from benchmark.study.ledger import Surplus, optimize_one
from benchmark.tuning import ATTR, claim_slot, count_trials, fail_ownerless, retry_interrupted

BUDGET, CAP = 2, 2


def _study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(storage=f"sqlite:///{tmp_path / 'optuna.db'}", study_name="cell/tune")


def _objective(study: optuna.Study, stop: BaseException | None = None):
    """The tuning objective's bookkeeping (claim a slot, draw) with ``stop`` raised where training runs."""

    def objective(trial: optuna.Trial) -> float:
        if claim_slot(study, trial, BUDGET, CAP) is None:
            raise Surplus("budget already spent")
        x = trial.suggest_float("x", 0.0, 1.0)
        if stop is not None:
            raise stop
        return x

    return objective


def _lost_connection() -> sqlalchemy.exc.OperationalError:
    """What psycopg raises through SQLAlchemy when the server restarts in mid-statement."""
    return sqlalchemy.exc.OperationalError(
        "UPDATE trials SET ...", {}, Exception("server closed the connection unexpectedly")
    )


def _slots(study: optuna.Study) -> list[tuple[str, object]]:
    return [(t.state.name, t.user_attrs.get(ATTR["slot"])) for t in study.get_trials()]


def test_ctrl_c_in_a_trial_queues_it_again_with_its_slot_and_params(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        optimize_one(study, _objective(study, KeyboardInterrupt()))
    first, retry = study.get_trials()
    assert first.state == TrialState.FAIL and first.user_attrs[ATTR["interrupted"]] is True
    assert retry.state == TrialState.WAITING and retry.params == first.params
    assert retry.user_attrs[ATTR["slot"]] == 0
    assert count_trials(study.get_trials()).extra == 0  # the interrupted trial spent nothing
    optimize_one(study, _objective(study))
    optimize_one(study, _objective(study))
    assert _slots(study) == [("FAIL", 0), ("COMPLETE", 0), ("COMPLETE", 1)]
    assert study.trials[1].params == first.params


def test_a_lost_connection_queues_the_trial_again_and_the_worker_goes_on(tmp_path: Path) -> None:
    study = _study(tmp_path)
    optimize_one(study, _objective(study, _lost_connection()))  # returns: no exception
    assert _slots(study) == [("FAIL", 0), ("WAITING", 0)]
    assert study.trials[0].user_attrs[ATTR["interrupted"]] is True


def test_a_crash_stops_the_worker_and_the_next_worker_retries_the_slot(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with pytest.raises(ValueError, match="a bug"):
        optimize_one(study, _objective(study, ValueError("a bug")))
    assert _slots(study) == [("FAIL", 0)]
    assert ATTR["interrupted"] not in study.trials[0].user_attrs
    assert retry_interrupted(study) == 1  # what every worker does before it tunes a cell
    assert _slots(study) == [("FAIL", 0), ("WAITING", 0)]


def test_a_verdict_of_the_method_is_never_retried(tmp_path: Path) -> None:
    """Diverged (a reason), surplus, and a repeat or sweep run that failed with its row stored."""
    study = _study(tmp_path)
    for attr in (ATTR["reason"], ATTR["surplus"], ATTR["result"]):
        trial = study.ask()
        trial.set_user_attr(attr, "x")
        study.tell(trial, state=TrialState.FAIL)
    assert retry_interrupted(study) == 0


def test_a_stale_trial_failed_before_its_retry_callback_ran_gets_its_slot_back(tmp_path: Path) -> None:
    """CI, PostgreSQL restarted mid-study: Optuna's ``fail_stale_trials`` failed a trial, then lost the
    connection before queuing its retry. The slot went to waste and the cell completed slots 1 and 2."""
    study = _study(tmp_path)
    trial = study.ask()
    assert claim_slot(study, trial, BUDGET, CAP) == 0
    trial.suggest_float("x", 0.0, 1.0)
    study.tell(trial, state=TrialState.FAIL)  # as fail_stale_trials does: no attribute, no retry
    assert retry_interrupted(study) == 1
    optimize_one(study, _objective(study))
    optimize_one(study, _objective(study))
    assert _slots(study) == [("FAIL", 0), ("COMPLETE", 0), ("COMPLETE", 1)]


def test_a_slot_queued_twice_runs_once(tmp_path: Path) -> None:
    """Two workers that both find the interrupted trial without its retry both queue one: the second
    retry starts surplus, and the budget still ends with slots 0 and 1 complete."""
    study = _study(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        optimize_one(study, _objective(study, KeyboardInterrupt()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None)(study, study.trials[0])
    for _ in range(3):
        optimize_one(study, _objective(study))
    states = _slots(study)
    assert states[:3] == [("FAIL", 0), ("COMPLETE", 0), ("FAIL", 0)], states
    assert study.trials[2].user_attrs[ATTR["surplus"]] is True
    assert states[3] == ("COMPLETE", 1)


def test_the_fallback_retries_once_however_often_it_runs(tmp_path: Path) -> None:
    """``retry_interrupted`` (run by every worker that tunes a cell or finds it busy) queues a retry only
    for a trial that has none."""
    study = _study(tmp_path)
    trial = study.ask()
    trial.set_user_attr(ATTR["slot"], 0)
    trial.set_user_attr(ATTR["interrupted"], True)
    trial.suggest_float("x", 0.0, 1.0)
    study.tell(trial, state=TrialState.FAIL)
    assert retry_interrupted(study) == 1
    assert retry_interrupted(study) == 0
    assert _slots(study) == [("FAIL", 0), ("WAITING", 0)]


def test_a_running_trial_nobody_owns_is_failed_after_the_wait_and_retried(tmp_path: Path) -> None:
    """PostgreSQL restart test: a worker took a queued repeat, lost the server before recording its owner
    and stopped. The trial stayed RUNNING with no heartbeat, so Optuna never found it stale, and the other
    worker waited for that seed until the test's 300 s ran out."""
    study = _study(tmp_path)
    study.enqueue_trial({"x": 0.5}, user_attrs={ATTR["seed"]: 7})  # a queued repeat's seed
    orphan = study.ask()  # taken, then the worker died before its first statement
    owned = study.ask()
    owned.set_user_attr(ATTR["owner"], "host:1")
    assert fail_ownerless(study, after_s=3600) == 0  # a live worker may still be waiting for the server
    assert fail_ownerless(study, after_s=0) == 1
    assert [t.state.name for t in study.trials] == ["FAIL", "RUNNING"]
    assert retry_interrupted(study, {orphan.number}) == 1
    retry = study.trials[-1]
    assert retry.state == TrialState.WAITING and retry.user_attrs[ATTR["seed"]] == 7
