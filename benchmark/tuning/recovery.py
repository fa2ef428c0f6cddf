"""Recovering trials that stopped for a reason outside their method: a dead local worker (SQLite and
journal storages; RDB storages use the heartbeat), an interruption (Ctrl-C, SIGTERM, a database connection
lost mid-statement) or a crash, which Optuna records as FAIL. Each gets a retry with the same parameters and
slot, so a budget slot or a seed is never lost to something its method did not do."""

from __future__ import annotations

import datetime
import socket
import warnings

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from benchmark.host_process import pid_alive
from benchmark.tuning.budget import retried_numbers
from benchmark.tuning.storages import lost_connection
from benchmark.tuning.trial_attrs import ATTR

__all__ = [
    "fail_ownerless",
    "interruption",
    "recover_dead_trials",
    "retry_interrupted",
    "stopped_from_outside",
]


def interruption(exc: BaseException) -> bool:
    """``exc`` stopped a trial for a reason outside its method: Ctrl-C or SIGTERM (raised as
    KeyboardInterrupt or SystemExit by :mod:`benchmark.interrupts`) or a lost database connection."""
    return isinstance(exc, KeyboardInterrupt | SystemExit) or lost_connection(exc) is not None


def _retry_callback() -> RetryHeartbeatStaleTrialCallback:
    with warnings.catch_warnings():  # experimental in Optuna
        warnings.simplefilter("ignore")
        return RetryHeartbeatStaleTrialCallback(max_retry=None)


def stopped_from_outside(trial: FrozenTrial) -> bool:
    """A FAIL trial that carries no verdict of its method: not diverged (a reason), not surplus, no result
    stored (a repeat or sweep run that failed records its row). Its run was interrupted, failed by the
    heartbeat, or crashed; Optuna records all of these FAIL, and some of them (a stale trial failed just
    before its retry callback ran, an interrupt whose mark could not be written) carry no other sign."""
    verdicts = (ATTR["reason"], ATTR["surplus"], ATTR["result"])
    return trial.state == TrialState.FAIL and not any(trial.user_attrs.get(k) for k in verdicts)


def retry_interrupted(study: optuna.Study, numbers: set[int] | None = None) -> int:
    """Queue one retry, same parameters and slot, of every trial :func:`stopped_from_outside` that has none
    yet (all of them, or those with ``numbers``). Safe for several workers at once: a second retry of one
    slot starts as surplus (:func:`~benchmark.tuning.budget.claim_slot`, and the seed checks of repeats
    and sweeps).

    Returns:
        How many trials were queued again.
    """
    retry = _retry_callback()
    trials = study.get_trials(deepcopy=False)
    stale = retried_numbers(trials)
    count = 0
    for t in trials:
        if numbers is not None and t.number not in numbers:
            continue
        if stopped_from_outside(t) and t.number not in stale:
            retry(study, t)
            count += 1
    return count


def fail_ownerless(study: optuna.Study, after_s: float) -> int:
    """Fail RUNNING trials that never recorded an owner, ``after_s`` seconds after they started.

    A worker records its ``host:pid`` as the first statement of every trial. One that lost the database
    between taking a trial and that statement (a server restart) and then stopped leaves a RUNNING trial
    that nobody owns and that has no heartbeat either, so Optuna never finds it stale and its cell waits
    forever (seen in the PostgreSQL restart test: a repeat RUNNING with no owner). ``after_s`` must cover
    a live worker's longest wait for the database (the grace period plus the reconnect patience); the
    failed trial is then retried by :func:`retry_interrupted`.

    Returns:
        How many trials were failed.
    """
    now = datetime.datetime.now()
    count = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = t.datetime_start
        if ATTR["owner"] in t.user_attrs or started is None or (now - started).total_seconds() < after_s:
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        except (ValueError, RuntimeError):
            continue
        count += 1
    return count


def recover_dead_trials(study: optuna.Study, *, ownerless_dead: bool = False) -> int:
    """Fail RUNNING trials whose owner process on this host is gone and queue a retry of each.

    Used for SQLite and journal storages (RDB storages rely on the heartbeat). A trial with no owner yet
    (killed between creation and its first line) counts as dead only with ``ownerless_dead=True``, which is
    right before any worker of this study has started.

    Returns:
        How many trials were recovered.
    """
    host = socket.gethostname()
    retry = _retry_callback()
    count = retry_interrupted(study)  # in case the interrupted worker could not queue the retry itself
    for t in study.get_trials(deepcopy=False):
        if t.state != TrialState.RUNNING:
            continue
        owner = str(t.user_attrs.get(ATTR["owner"], ""))
        o_host, _, o_pid = owner.rpartition(":")
        if owner and o_host != host:
            continue
        if owner and o_pid.isdigit() and pid_alive(int(o_pid)):
            continue
        if not owner and not ownerless_dead:
            continue  # just created by a live worker that has not recorded itself yet
        try:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        except (ValueError, RuntimeError):
            continue
        retry(study, t)
        count += 1
    return count
