"""Ctrl-C and SIGTERM are held inside Optuna's bookkeeping and raised at once elsewhere, with real signals."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import optuna
import pytest

from benchmark import interrupts
from benchmark.study.ledger import optimize_one


@pytest.fixture(autouse=True)
def handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupts.install()
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def test_a_signal_outside_any_block_raises_at_once() -> None:
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        signal.raise_signal(signal.SIGTERM)


def test_a_held_signal_is_raised_when_the_block_ends_not_before() -> None:
    reached = []
    with pytest.raises(KeyboardInterrupt, match="signal 2"), interrupts.held():
        signal.raise_signal(signal.SIGINT)
        reached.append("after the signal")  # still running: held
    assert reached == ["after the signal"]
    interrupts.raise_pending()  # raised once, not again


def test_inside_at_once_a_held_block_raises_at_once() -> None:
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts.held(), interrupts.at_once():
        signal.raise_signal(signal.SIGTERM)
        reached.append("not reached")
    assert reached == []


def test_raise_pending_is_the_safe_point_inside_a_held_block() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.held():
        signal.raise_signal(signal.SIGTERM)
        with interrupts.at_once():
            interrupts.raise_pending()  # where a run starts training


def test_optuna_tells_the_trial_before_a_signal_it_held_is_raised() -> None:
    """A signal during Optuna's part of a trial: the trial is told (complete), then the interrupt comes."""
    study = optuna.create_study()

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        signal.raise_signal(signal.SIGTERM)  # inside the objective: at once, Optuna fails the trial
        return x

    with pytest.raises(KeyboardInterrupt):
        optimize_one(study, objective)
    failed, retry = study.trials  # stopped from outside its method: queued again with the same draw
    assert (failed.state, retry.state) == (optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING)
    assert retry.params == failed.params

    original = study._storage.set_trial_state_values

    def tell_with_a_signal(*args, **kwargs):  # type: ignore[no-untyped-def]
        signal.raise_signal(signal.SIGTERM)  # while Optuna writes the trial's state: held
        return original(*args, **kwargs)

    study._storage.set_trial_state_values = tell_with_a_signal  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        optimize_one(study, lambda t: t.suggest_float("x", 0, 1))
    assert study.trials[-1].state == optuna.trial.TrialState.COMPLETE and len(study.trials) == 2
