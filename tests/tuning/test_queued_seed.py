"""``has_queued_seed`` tells a queued repeat or sweep trial (and its retry) from one a worker started past an
empty queue, through Optuna's public API only: a real in-memory study, the same calls the study runner
makes (``enqueue_trial`` with the seed user attribute, ``ask``, the retry callback of a dead worker)."""

from __future__ import annotations

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from benchmark.tuning import ATTR, has_queued_seed

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def test_a_queued_trial_has_its_seed_and_a_trial_past_the_queue_has_none() -> None:
    study = optuna.create_study()
    study.enqueue_trial({"seed": 3}, user_attrs={ATTR["seed"]: 3})
    queued = study.ask()
    assert has_queued_seed(queued)
    assert queued.suggest_int("seed", 0, 10) == 3
    past_the_queue = study.ask()  # the queue is empty now
    assert not has_queued_seed(past_the_queue)


def test_the_retry_of_a_queued_trial_keeps_its_seed() -> None:
    study = optuna.create_study()
    study.enqueue_trial({"seed": 5, "lr": 0.1}, user_attrs={ATTR["seed"]: 5})
    dead = study.ask()
    dead.suggest_int("seed", 0, 10)
    study.tell(dead, state=TrialState.FAIL)
    RetryHeartbeatStaleTrialCallback(max_retry=None)(study, study.trials[dead.number])  # the runner's retry
    retry = study.ask()
    assert retry.number != dead.number
    assert has_queued_seed(retry)
    assert retry.suggest_int("seed", 0, 10) == 5
