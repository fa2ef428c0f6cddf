"""Sweep cells in the study runner: an Optuna study per cell, one trial per (grid point, seed), one run each.

``"{study}/{cell}/sweep"`` has a ``GridSampler`` over the swept parameters and ``seed`` (the grid is the
study's search space), and every (point, seed) is enqueued once at setup: Optuna's queue hands each to
exactly one worker (``GridSampler`` alone picks grid points at random and can give one to two workers at
once). Everything else is the tuned cells' machinery: the same storages, ``--workers``, the same run
(``_Worker.execute``), dead workers' RUNNING trials failed and re-queued with the same parameters on the
next start, and a results row stored in each trial, so ``sweeps.csv`` is a pure function of the storage.

MLflow: one parent run per sweep cell, one child per (point, seed) with every hyperparameter logged as a
param (so MLflow's parallel-coordinates and contour views show the swept ones as they are).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import optuna
from optuna.trial import TrialState

from benchmark.cells import Cell
from benchmark.naming import task_direction
from benchmark.output_files import atomic_write
from benchmark.study.ledger import (
    Diverged,
    Surplus,
    best_params,
    optimize_one,
    result_row,
    tune_study,
    unstick_study,
)
from benchmark.study.parents import cell_tags
from benchmark.study.plan import StudyPlan, study_name
from benchmark.sweeps.spec import BASE_TUNED, SweepCell
from benchmark.tuning import ATTR, count_trials, has_queued_seed, owner_id, recover_dead_trials

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmark.study.execute import RunExecutor
    from benchmark.tracking import Tracker


class SweepWorker(Protocol):
    """What a sweep needs from the study's worker (``benchmark.study.worker.Worker``)."""

    @property
    def plan(self) -> StudyPlan: ...
    @property
    def storage(self) -> Any: ...
    @property
    def runner(self) -> RunExecutor: ...
    @property
    def on_progress(self) -> Callable[[], None]: ...


__all__ = [
    "SWEEP_COLUMNS",
    "SweepCell",
    "SweepWorker",
    "finish_sweep_parent",
    "run_sweep",
    "setup_sweeps",
    "sweep_line",
    "sweep_progress",
    "sweep_rows",
    "sweep_state",
    "sweep_study",
    "unstick_sweep",
    "write_sweeps_csv",
]

SWEEP_COLUMNS = ("sweep", "swept", "base", "base_kind", "slot")
_PARENT = "discrimbench.mlflow_parent"
_BASE = "discrimbench.base"  # the resolved base values (JSON), written once the base is known


_STUDIES: dict[tuple[int, str], optuna.Study] = {}


def sweep_study(storage: Any, cell: SweepCell) -> optuna.Study:
    """The cell's Optuna study (created on first use, cached per storage)."""
    name = study_name(cell, "sweep")
    key = (id(storage), name)
    if key not in _STUDIES:
        space: dict[str, list[Any]] = {a.param: list(a.values) for a in cell.axes}
        space["seed"] = list(cell.seeds)
        _STUDIES[key] = optuna.create_study(
            storage=storage,
            study_name=name,
            sampler=optuna.samplers.GridSampler(space, seed=0),
            pruner=optuna.pruners.NopPruner(),  # a sweep measures every point: nothing is pruned
            direction=task_direction(cell.task),
            load_if_exists=True,
        )
    return _STUDIES[key]


def _tags(cell: SweepCell) -> dict[str, str]:
    return cell_tags(cell)  # the sweep's own tags come with SweepCell.extra_tags


def setup_sweeps(plan: StudyPlan, storage: Any, tracker: Tracker) -> None:
    """Create the sweep studies, enqueue the missing (point, seed) trials, open (or reopen) the parent runs
    and re-queue trials of dead local workers. Idempotent; called after the cells' own setup."""
    parents: list[tuple[SweepCell, str | None]] = []
    for cell in plan.study.sweeps:
        study = sweep_study(storage, cell)
        trials = study.get_trials(deepcopy=False)
        queued = {t.user_attrs.get(ATTR["slot"]) for t in trials}
        for point in cell.points:
            for seed in cell.seeds:
                slot = cell.slot(point, seed)
                if slot not in queued:
                    attrs = {ATTR["slot"]: slot, ATTR["seed"]: seed}
                    study.enqueue_trial({**point, "seed": seed}, user_attrs=attrs)
        parent = study.user_attrs.get(_PARENT)
        if tracker.enabled and not parent:
            parents.append(
                (cell, tracker.cell_run(cell.cell_id, {**_tags(cell), "discrimbench.role": "cell"}))
            )
        elif tracker.enabled and sweep_state(plan, storage, cell) != "done":
            tracker.reopen(str(parent))  # resumed after an interrupt or a kill
        if plan.local_storage:
            recover_dead_trials(study, ownerless_dead=True)
    for cell, key in parents:
        run_id = tracker.run_id(key)
        if run_id:
            sweep_study(storage, cell).set_user_attr(_PARENT, run_id)


def _tuned_cell(plan: StudyPlan, cell: SweepCell) -> Cell:
    """The tuned cell whose best parameters are the base of a ``base: tuned`` sweep."""
    for other in plan.cells:
        same = (other.dataset, other.noise, other.rate, other.method) == (
            cell.dataset, cell.noise, cell.rate, cell.method,
        )  # fmt: skip
        if same and other.protocol == "tuned" and other.selection == cell.selection:
            return other
    raise LookupError(f"no tuned cell {cell.tuned_cell_id} for sweep {cell.sweep}")  # refused by validation


def _base(plan: StudyPlan, storage: Any, cell: SweepCell) -> dict[str, Any] | None:
    """The base values; for ``base: tuned`` the tuned cell's best (None while it is still tuning)."""
    if cell.base != BASE_TUNED:
        return dict(cell.fixed)
    study = sweep_study(storage, cell)
    if _BASE in study.user_attrs:
        return dict(json.loads(study.user_attrs[_BASE]))
    tuned = _tuned_cell(plan, cell)
    tune = tune_study(plan, storage, tuned)
    if not count_trials(tune.get_trials(deepcopy=False)).finished(tuned.budget, tuned.extra_cap):
        return None
    params, _ = best_params(tune, tuned)
    study.set_user_attr(_BASE, json.dumps(params, sort_keys=True))
    return params


def sweep_state(plan: StudyPlan, storage: Any, cell: SweepCell) -> str:
    """``wait-base`` (its tuned cell is still tuning), ``run`` (points queued), ``busy`` or ``done``."""
    trials = sweep_study(storage, cell).get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return "run" if _base(plan, storage, cell) is not None else "wait-base"
    done = {t.user_attrs.get(ATTR["slot"]) for t in trials if ATTR["result"] in t.user_attrs}
    return "done" if len(done) >= cell.budget else "busy"


def run_sweep(worker: SweepWorker, cell: SweepCell) -> None:
    """Run queued (point, seed) trials of ``cell`` until none is left (the worker's runner trains)."""
    plan, storage = worker.plan, worker.storage
    study = sweep_study(storage, cell)
    base = _base(plan, storage, cell)
    if base is None:
        return
    parent = study.user_attrs.get(_PARENT)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(ATTR["owner"], owner_id())
        if not has_queued_seed(trial):  # the queue was empty when this trial started
            trial.set_user_attr(ATTR["surplus"], True)
            raise Surplus("no queued point")
        point = {a.param: trial.suggest_categorical(a.param, list(a.values)) for a in cell.axes}
        seed = int(trial.suggest_categorical("seed", list(cell.seeds)))
        slot = cell.slot(point, seed)
        for other in study.get_trials(deepcopy=False):
            taken = other.state == TrialState.RUNNING or ATTR["result"] in other.user_attrs
            if other.number < trial.number and other.user_attrs.get(ATTR["slot"]) == slot and taken:
                trial.set_user_attr(ATTR["surplus"], True)
                raise Surplus(f"slot {slot} already taken")
        params = {**base, **point}
        result, run_id = worker.runner.execute(cell, "sweep", seed, params, trial, parent)
        row = result_row(cell, result, params, run_id)
        row.update(
            run_id=f"{cell.cell_id}/sweep/{slot}", sweep=cell.sweep, slot=slot, base_kind=cell.base,
            swept=json.dumps(point), base=json.dumps({**cell.defaults, **base}, sort_keys=True, default=str),
        )  # fmt: skip
        trial.set_user_attr(ATTR["result"], json.dumps(row, default=str))
        value = row.get("test_best_val")
        if result.status != "ok" or value is None or not math.isfinite(float(value)):
            raise Diverged(result.reason or "no finite test metric")
        return float(value)

    while any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False)):
        optimize_one(study, objective)
        worker.on_progress()


def finish_sweep_parent(tracker: Tracker, storage: Any, cell: SweepCell) -> None:
    """Close a done sweep cell's parent run with its run count."""
    parent = sweep_study(storage, cell).user_attrs.get(_PARENT)
    if tracker.enabled and parent:
        rows = _rows(storage, cell)
        tracker.log_epoch(parent, 0, {"sweep/runs_ok": float(sum(r["status"] == "ok" for r in rows))})
        tracker.finish(parent, "FINISHED", {"discrimbench.status": "done"})


def _rows(storage: Any, cell: SweepCell) -> list[dict[str, Any]]:
    by_slot: dict[int, dict[str, Any]] = {}
    for t in sorted(sweep_study(storage, cell).get_trials(deepcopy=False), key=lambda t: t.number):
        if ATTR["result"] in t.user_attrs and not t.user_attrs.get(ATTR["surplus"]):
            row = json.loads(t.user_attrs[ATTR["result"]])
            by_slot.setdefault(int(row["slot"]), row)
    return [by_slot[s] for s in sorted(by_slot)]


def sweep_rows(plan: StudyPlan, storage: Any) -> list[dict[str, Any]]:
    """Every finished sweep run's row, in sweep-cell order then grid order (point, then seed)."""
    return [row for cell in plan.study.sweeps for row in _rows(storage, cell)]


def sweep_progress(plan: StudyPlan, storage: Any) -> int:
    """Finished sweep runs (the progress bar's share of the sweeps)."""
    return sum(len(_rows(storage, cell)) for cell in plan.study.sweeps)


def write_sweeps_csv(plan: StudyPlan, rows: list[dict[str, Any]]) -> Path | None:
    """``sweeps.csv`` beside ``results.csv``, atomically (no file for a study without sweeps)."""
    if not plan.study.sweeps:
        return None
    import pandas as pd

    from benchmark.runs import RESULT_COLUMNS

    path = plan.out / "sweeps.csv"
    frame = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, *SWEEP_COLUMNS])
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    return path


def unstick_sweep(plan: StudyPlan, storage: Any, cell: SweepCell) -> None:
    """Fail and re-queue trials of dead workers (pid for local storages, heartbeat for RDB)."""
    unstick_study(plan, sweep_study(storage, cell))


def sweep_line(storage: Any, cell: SweepCell) -> str:
    """One console line for a finished sweep cell: the best point's mean over seeds and the spread."""
    import numpy as np

    by_point: dict[str, list[float]] = {}
    for row in _rows(storage, cell):
        if row["status"] == "ok" and row["test_best_val"] is not None:
            by_point.setdefault(row["swept"], []).append(float(row["test_best_val"]))
    means = {p: float(np.mean(v)) for p, v in by_point.items()}
    if not means:
        return f"done {cell.cell_id}: no run finished"
    best = (max if task_direction(cell.task) == "maximize" else min)(means, key=means.__getitem__)
    low, high = min(means.values()), max(means.values())
    return (
        f"done {cell.cell_id}: {len(means)} points × {len(cell.seeds)} seeds, test {low:.2f} … {high:.2f}, "
        f"best {best} ({means[best]:.2f})"
    )
