"""The trial budget of a cell: which trials hold a slot, how they stand, and claiming a slot.

A cell's budget counts COMPLETED trials; PRUNED and FAIL ones are extra, up to the cell's cap (see the
package docstring). Every trial that starts takes the next *slot*; stale trials (retried with the same
parameters, the retry inherits the slot) and surplus ones (a worker raced past the budget) hold none.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from benchmark.tuning.trial_attrs import ATTR, owner_id

__all__ = ["TrialCounts", "budget_trials", "claim_slot", "count_trials", "retried_numbers"]


def retried_numbers(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of trials that were retried: every number in the retry history of a retry."""
    out: set[int] = set()
    with warnings.catch_warnings():  # retry_history is marked experimental
        warnings.simplefilter("ignore")
        for t in trials:
            out.update(int(n) for n in RetryHeartbeatStaleTrialCallback.retry_history(t))
    return out


def budget_trials(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Trials holding a budget slot (not stale, not surplus, not WAITING), by number."""
    stale = retried_numbers(trials)
    return [
        t
        for t in sorted(trials, key=lambda t: t.number)
        if t.state != TrialState.WAITING and t.number not in stale and not t.user_attrs.get(ATTR["surplus"])
    ]


@dataclass(frozen=True)
class TrialCounts:
    """How a cell's slot-holding trials stand: COMPLETE, PRUNED, FAIL and RUNNING."""

    completed: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0

    @property
    def extra(self) -> int:
        """Trials that do not count toward the budget: pruned and failed ones."""
        return self.pruned + self.failed

    def open(self, budget: int, cap: int) -> bool:
        """Whether another trial may start: completed and running ones leave room in the budget and the
        extra trials have not reached their cap."""
        return self.completed + self.running < budget and self.extra < cap

    def finished(self, budget: int, cap: int) -> bool:
        """Whether tuning is over: the budget completed, or the cap of extra trials spent, nothing running."""
        return self.running == 0 and (self.completed >= budget or self.extra >= cap)


def count_trials(trials: Sequence[FrozenTrial]) -> TrialCounts:
    """:class:`TrialCounts` of the slot holders among ``trials``."""
    held = budget_trials(trials)
    return TrialCounts(
        completed=sum(t.state == TrialState.COMPLETE for t in held),
        pruned=sum(t.state == TrialState.PRUNED for t in held),
        failed=sum(t.state == TrialState.FAIL for t in held),
        running=sum(t.state == TrialState.RUNNING for t in held),
    )


def claim_slot(study: optuna.Study, trial: optuna.Trial, budget: int, cap: int) -> int | None:
    """Record the owner and the slot of a starting trial; None when the budget is already complete (or
    being completed by running trials) or the cap of extra trials is spent.

    A retried trial keeps its original slot, unless an earlier slot holder already has it (the slot was
    queued again twice): then it is surplus. A new trial's slot is its rank among the slot holders.
    """
    trial.set_user_attr(ATTR["owner"], owner_id())
    inherited = trial.user_attrs.get(ATTR["slot"])
    holders = [t for t in budget_trials(study.get_trials(deepcopy=False)) if t.number < trial.number]
    if inherited is not None:
        if any(t.user_attrs.get(ATTR["slot"]) == inherited for t in holders):
            trial.set_user_attr(ATTR["surplus"], True)  # a second retry of one slot (two workers queued it)
            return None
        return int(inherited)
    if not count_trials(holders).open(budget, cap):
        trial.set_user_attr(ATTR["surplus"], True)
        return None
    slot = len(holders)
    trial.set_user_attr(ATTR["slot"], slot)
    return slot
