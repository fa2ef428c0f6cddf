"""The body of every worker: claim the next runnable piece of work from the ledger and run it, until
every cell is done. One process, ``--workers N`` local processes or many machines run this same loop.

Killing a worker at any moment is safe: on the next start (SQLite / journal: the owner ``host:pid`` is dead;
RDB: the heartbeat went stale) its RUNNING trial is failed and re-queued with the same slot and params.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from benchmark.config import SEED_MAX, Cell
from benchmark.study.execute import RunExecutor
from benchmark.study.ledger import (
    Diverged,
    Surplus,
    best_params,
    cell_state,
    holds,
    open_store,
    optimize_one,
    repeat_study,
    result_row,
    tune_study,
    tuning_open,
    tuning_summary,
    unstick,
)
from benchmark.study.outputs import environment
from benchmark.study.parents import finish_parent, parent_of
from benchmark.study.plan import StudyPlan
from benchmark.sweeps import execute as sweeps
from benchmark.tracking import Tracker, make_tracker
from benchmark.tuning import ATTR, claim_slot, has_queued_seed, owner_id, retry_interrupted, suggest

__all__ = ["Worker", "work"]


@dataclass
class Worker:
    """Runs a cell's tuning trials while budget slots are open, then its repeats while seeds are queued."""

    plan: StudyPlan
    storage: Any
    runner: RunExecutor
    on_progress: Callable[[], None] = lambda: None

    def tune(self, cell: Cell) -> None:
        study = tune_study(self.plan, self.storage, cell)
        parent = parent_of(study)
        retry_interrupted(study)  # a slot stopped from outside (crash, stale, interrupt) before a new one

        def objective(trial: optuna.Trial) -> float:
            slot = claim_slot(study, trial, cell.budget, cell.extra_cap)
            if slot is None:
                raise Surplus("budget already spent")
            space = cell.space
            if trial.user_attrs.get("discrimbench.defaults"):
                # the paper-defaults trial draws nothing a default cannot fill: a None default
                # ("derived by the method") or one outside the searched range keeps the method's value
                space = {k: v for k, v in space.items() if holds(v, cell.defaults.get(k))}
            params = {**cell.fixed, **suggest(trial, space)}
            result, run_id = self.runner.execute(
                cell, "trial", self.plan.study.config.tuning.seed, params, trial, parent
            )
            trial.set_user_attr(ATTR["mlflow"], run_id or "")
            trial.set_user_attr(ATTR["status"], result.status)
            value = result.val_best
            if result.status != "ok" or not math.isfinite(value):
                reason = result.reason or f"no finite {cell.selection} value"
                trial.set_user_attr(ATTR["reason"], reason)
                raise Diverged(reason)
            return float(value)

        while tuning_open(study, cell):
            optimize_one(study, objective)
            self.on_progress()

    def repeat(self, cell: Cell) -> None:
        tune = tune_study(self.plan, self.storage, cell)
        parent = parent_of(tune)
        params, note = best_params(tune, cell)
        accounting = tuning_summary(tune, cell)
        study = repeat_study(self.storage, cell)

        def objective(trial: optuna.Trial) -> float:
            trial.set_user_attr(ATTR["owner"], owner_id())
            if not has_queued_seed(trial):
                trial.set_user_attr(ATTR["surplus"], True)
                raise Surplus("no queued seed")
            seed = trial.suggest_int("seed", 0, SEED_MAX)
            for other in study.get_trials(deepcopy=False):
                taken = other.state == TrialState.RUNNING or ATTR["result"] in other.user_attrs
                if other.number < trial.number and other.params.get("seed") == seed and taken:
                    trial.set_user_attr(ATTR["surplus"], True)
                    raise Surplus(f"seed {seed} already taken")
            result, run_id = self.runner.execute(cell, "repeat", seed, params, None, parent)
            row = result_row(cell, result, params, run_id, accounting)
            trial.set_user_attr(ATTR["result"], json.dumps(row))
            if note:
                trial.set_user_attr("discrimbench.note", note)
            if result.status != "ok":
                raise Diverged(result.reason or "failed")
            value = result.val_best
            return float(value) if math.isfinite(value) else 0.0

        while any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False)):
            optimize_one(study, objective)
            self.on_progress()


# A worker with nothing runnable looks again after 0.05 s, then waits twice as long each time up to 1 s:
# the run it waits for often takes well under a second in small studies, while a long wait should not
# scan every cell's state in a shared database several times a second.
_IDLE_POLL_S = (0.05, 1.0)


def work(
    plan: StudyPlan,
    on_progress: Callable[[], None] = lambda: None,
    on_cell: Callable[[Cell], None] = lambda c: None,
    tracker: Tracker | None = None,
) -> None:
    """Claim and run work until every cell is done (the body of every worker)."""
    threads = plan.threads or plan.study.config.training.threads
    if threads:
        import torch

        torch.set_num_threads(threads)
    storage = open_store(plan)
    tracker = tracker or make_tracker(plan.tracking_uri, plan.study.name, plan.out)
    worker = Worker(plan, storage, RunExecutor(plan, tracker, environment()), on_progress)
    pending: list[Cell] = [*plan.cells, *plan.study.sweeps]  # sweeps last: a tuned base comes first
    idle = _IDLE_POLL_S[0]
    while pending:
        progressed = False
        for cell in list(pending):
            if _blocked(cell, pending):
                continue  # its dataset's clean CE cell (the hardness source) is not done yet
            if isinstance(cell, sweeps.SweepCell):
                state = sweeps.sweep_state(plan, storage, cell)
                if state == "run":
                    sweeps.run_sweep(worker, cell)
                elif state == "done":
                    pending.remove(cell)
                    sweeps.finish_sweep_parent(tracker, storage, cell)
                    on_cell(cell)
                else:  # busy elsewhere, or waiting for its tuned base
                    sweeps.unstick_sweep(plan, storage, cell)
                    continue
                progressed = True
                break
            state = cell_state(plan, storage, cell)
            if state == "tune":
                worker.tune(cell)
            elif state == "repeat":
                worker.repeat(cell)
            elif state == "done":
                pending.remove(cell)
                finish_parent(tracker, plan, storage, cell)
                on_cell(cell)
            else:
                unstick(plan, storage, cell)
                continue
            progressed = True
            break  # re-scan from the first cell: earlier cells may have become runnable
        if progressed:
            idle = _IDLE_POLL_S[0]
        elif pending:
            time.sleep(idle)
            idle = min(2 * idle, _IDLE_POLL_S[1])


def _blocked(cell: Cell, pending: list[Cell]) -> bool:
    return not cell.provides_hardness and any(
        c.provides_hardness and c.dataset == cell.dataset for c in pending
    )
