"""Optuna for DiscrimBench: storages, a per-slot seeded TPE sampler and pruners, the trial budget, the
objective's draw and the recovery of dead workers' trials — through Optuna's public API only.

Budget accounting. A cell's budget (``tuning.n_trials``; 1 when a method has nothing to search: its single
trial is the paper defaults, more would re-run identical configurations) counts COMPLETED trials, the same
number for every method. PRUNED and FAIL (diverged) trials are extra: the cell goes on until it has its
completed trials, or until it has spent its cap of extra trials (``tuning.max_extra_trials``, default
``n_trials``), so that a study cannot loop forever on a space that always diverges or a pruner that always
prunes; a cell stopped by the cap has fewer completed trials, and the budget-health checks say so. With
several workers the cap can be overshot by up to one trial per other worker (trials already running when
the cap is reached still finish, pruned or not).

Every trial that starts takes the next *slot* (0, 1, 2, …): the slot seeds its draw and numbers it.
Two kinds of trials hold no slot: *stale* ones (their worker died; a WAITING retry with the same
parameters inherits the slot) and *surplus* ones (a worker raced past the budget; recorded FAIL with
``discrimbench.surplus`` and ignored everywhere).

Modules: :mod:`~benchmark.tuning.storages` (opening storages, outages),
:mod:`~benchmark.tuning.samplers` (sampler, pruners), :mod:`~benchmark.tuning.budget` (slots and counts),
:mod:`~benchmark.tuning.objective` (the draw, the queued seed), :mod:`~benchmark.tuning.recovery`
(trials of dead local workers), :mod:`~benchmark.tuning.trial_attrs` (the attributes on trials).
"""

from __future__ import annotations

import warnings

import optuna

from benchmark.tuning.budget import TrialCounts, budget_trials, claim_slot, count_trials, retried_numbers
from benchmark.tuning.objective import has_queued_seed, suggest
from benchmark.tuning.recovery import (
    fail_ownerless,
    interruption,
    recover_dead_trials,
    retry_interrupted,
    stopped_from_outside,
)
from benchmark.tuning.samplers import SlotSeededSampler, make_pruner, may_prune, prune_warmup
from benchmark.tuning.storages import (
    RECONNECT_S,
    ReconnectingRDBStorage,
    is_connection_error,
    is_rdb_url,
    open_storage,
    storage_failure,
)
from benchmark.tuning.trial_attrs import ATTR, owner_id

__all__ = [
    "ATTR",
    "RECONNECT_S",
    "ReconnectingRDBStorage",
    "SlotSeededSampler",
    "TrialCounts",
    "budget_trials",
    "claim_slot",
    "count_trials",
    "fail_ownerless",
    "has_queued_seed",
    "interruption",
    "is_connection_error",
    "is_rdb_url",
    "make_pruner",
    "may_prune",
    "open_storage",
    "owner_id",
    "prune_warmup",
    "recover_dead_trials",
    "retried_numbers",
    "retry_interrupted",
    "stopped_from_outside",
    "storage_failure",
    "suggest",
]


optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines say what failed and why
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
