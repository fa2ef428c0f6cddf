"""What the study runner's objectives ask of a trial: the hyperparameter draw and the queued seed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from benchmark.space import Choice, Distribution, FloatRange, IntRange
from benchmark.tuning.trial_attrs import ATTR

__all__ = ["has_queued_seed", "suggest"]


def suggest(trial: optuna.Trial, space: Mapping[str, Distribution]) -> dict[str, Any]:
    """Draw every hyperparameter of ``space`` (sorted names, so the draw order is stable)."""
    values: dict[str, Any] = {}
    for name in sorted(space):
        dist = space[name]
        if isinstance(dist, FloatRange):
            values[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
        elif isinstance(dist, IntRange):
            values[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step)
        elif isinstance(dist, Choice):
            values[name] = trial.suggest_categorical(name, list(dist.choices))
        else:  # pragma: no cover - the config layer only builds the three kinds
            raise TypeError(f"unknown distribution {dist!r}")
    return values


def has_queued_seed(trial: optuna.Trial) -> bool:
    """Whether a repeat or sweep trial was queued with a seed (``enqueue_trial`` with the seed user
    attribute, or a retry of such a trial, which copies its user attributes): one without it was started
    by a worker racing past an empty queue, and is surplus. Reads only Optuna's public trial API."""
    return ATTR["seed"] in trial.user_attrs
