"""The per-slot seeded TPE sampler and the pruners, with the rule for when a trial may be pruned.

Determinism: the sampler draws slot ``k`` with a TPE seeded from ``(sampler_seed, k)``, so a study that
was killed and resumed suggests exactly what an uninterrupted one would (TPE ignores FAIL trials).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial

from benchmark.tuning.trial_attrs import ATTR

__all__ = ["SlotSeededSampler", "make_pruner", "may_prune", "prune_warmup"]


class SlotSeededSampler(BaseSampler):
    """TPE whose randomness for budget slot ``k`` is seeded from ``(seed, k)``.

    Args:
        seed: the study's sampler seed.
        n_startup_trials: random trials before TPE models the history (Optuna's default is 10).
    """

    def __init__(self, seed: int, n_startup_trials: int = 10) -> None:
        self.seed = int(seed)
        self.n_startup_trials = n_startup_trials
        self._by_slot: dict[int, TPESampler] = {}

    def _for(self, trial: FrozenTrial) -> TPESampler:
        slot = int(trial.user_attrs.get(ATTR["slot"], trial.number))
        if slot not in self._by_slot:
            seed = int(np.random.SeedSequence([self.seed, slot]).generate_state(1)[0])
            self._by_slot[slot] = TPESampler(seed=seed, n_startup_trials=self.n_startup_trials)
        return self._by_slot[slot]

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:  # determinism comes from the slot, nothing to reseed
        return None


def make_pruner(kind: str, n_startup_trials: int = 1) -> optuna.pruners.BasePruner:
    """``median`` / ``hyperband`` (epoch-level) or ``none``.

    The study runner also asks the pruner only once a trial is past its warm-up and the cell has
    ``n_startup_trials`` completed trials (:func:`may_prune`), whatever the pruner.
    """
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=0)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    return optuna.pruners.NopPruner()


def prune_warmup(schedule: Mapping[str, float], epochs: int, fraction: float) -> int:
    """First 0-based epoch at which a trial may be pruned: after the epoch in which the last of the
    method's schedules reached its final form (``schedule_epochs``) and after ``fraction`` of the run."""
    last_schedule = max((math.floor(e) + 1 for e in schedule.values()), default=0)
    return max(last_schedule, math.ceil(fraction * epochs))


def may_prune(epoch: int, warmup: int, completed: int, startup: int) -> bool:
    """Whether the pruner may be asked at ``epoch``: past the warm-up, and with ``startup`` completed
    trials of the cell to compare against."""
    return epoch >= warmup and completed >= startup
