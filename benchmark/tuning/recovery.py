"""Recovering trials of dead local workers (SQLite and journal storages; RDB storages use the heartbeat)."""

from __future__ import annotations

import socket
import warnings

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from benchmark.host_process import pid_alive
from benchmark.tuning.budget import retried_numbers
from benchmark.tuning.trial_attrs import ATTR

__all__ = ["recover_dead_trials"]


def recover_dead_trials(study: optuna.Study, *, ownerless_dead: bool = False) -> int:
    """Fail RUNNING trials whose owner process on this host is gone and queue a retry of each.

    Used for SQLite and journal storages (RDB storages rely on the heartbeat). A trial with no owner yet
    (killed between creation and its first line) counts as dead only with ``ownerless_dead=True``, which is
    right before any worker of this study has started.

    Returns:
        How many trials were recovered.
    """
    host = socket.gethostname()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retry = RetryHeartbeatStaleTrialCallback(max_retry=None)
    trials = study.get_trials(deepcopy=False)
    stale = retried_numbers(trials)
    count = 0
    for t in trials:
        if t.state == TrialState.FAIL and t.user_attrs.get(ATTR["interrupted"]) and t.number not in stale:
            retry(study, t)  # Ctrl-C'd trial: failed by Optuna, never retried yet
            count += 1
            continue
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
