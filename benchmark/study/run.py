"""Run a study: tune every cell with Optuna, repeat the best hyperparameters over the seeds, write outputs.

Work is claimed through the Optuna storage (:mod:`benchmark.study.ledger`), so one process, ``--workers N``
local processes (journal file) or many machines (PostgreSQL) run the same code and never do a run twice.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import benchmark.study.outputs as outputs
from benchmark.config import Cell
from benchmark.study.ledger import (
    collect_rows,
    count_progress,
    open_store,
    prepare_cell,
    prepare_repeats,
    tune_study,
)
from benchmark.study.parents import (
    await_parents,
    cell_tags,
    end_open_parents,
    open_parent,
    parent_of,
    record_parent,
)
from benchmark.study.plan import StudyPlan
from benchmark.study.processes import helpers
from benchmark.study.worker import work
from benchmark.sweeps import execute as sweeps
from benchmark.tracking import NullTracker, Tracker, make_tracker

__all__ = ["run_study", "setup_storage"]


def run_study(plan: StudyPlan, *, report: bool = True, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the whole study and write its outputs; returns a short summary."""
    started = time.time()
    outputs.check_writable(plan.out)
    tracker = make_tracker(plan.tracking_uri, plan.study.name, plan.out, clients=plan.workers - 1)
    try:
        return _run_study(plan, tracker, started, report=report, progress=progress)
    except KeyboardInterrupt:
        end_open_parents(plan, tracker)
        raise
    finally:
        tracker.close()  # waits for the MLflow writer process: nothing queued is lost


def setup_storage(plan: StudyPlan, tracker: Tracker) -> None:
    """Create the studies, enqueue the defaults and the seeds, open the cells' MLflow parent runs, and
    recover trials left RUNNING by dead local processes. Idempotent."""
    storage = open_store(plan)
    if plan.local_storage:
        tracker.reap()  # runs of dead local processes end KILLED; their retries will link to them
    parents: list[tuple[Cell, str | None]] = []  # cells and the keys of their parent runs, being created
    claim = None if plan.local_storage else storage  # machines sharing a server claim each parent run
    for cell in plan.cells:
        tune = prepare_cell(plan, storage, cell, cell_tags(cell))
        key = open_parent(tracker, tune, cell, claim)
        if key is not None:
            parents.append((cell, key))
        prepare_repeats(plan, storage, cell)
    for cell, key in parents:
        record_parent(tracker, tune_study(plan, storage, cell), key)
    if claim is not None and tracker.enabled:
        claimed_elsewhere = [c for c in plan.cells if not parent_of(tune_study(plan, storage, c))]
        for cell in await_parents(plan, storage, claimed_elsewhere):
            key = open_parent(tracker, tune_study(plan, storage, cell), cell)  # its claimant died
            record_parent(tracker, tune_study(plan, storage, cell), key)
    sweeps.setup_sweeps(plan, storage, tracker)


def _run_study(
    plan: StudyPlan, tracker: Tracker, started: float, *, report: bool, progress: bool
) -> dict[str, Any]:
    with helpers(plan, tracker) as release_helpers:
        setup_storage(plan, tracker)
        release_helpers()
        storage = open_store(plan)
        _work_showing_progress(plan, storage, tracker, progress)
    rows = collect_rows(plan, storage)
    results = outputs.write_results(plan, rows)
    sweeps.write_sweeps_csv(plan, sweeps.sweep_rows(plan, storage))
    outputs.write_study_json(plan, storage, started)
    summary: dict[str, Any] = {"results": str(results), "rows": len(rows), "report": None}
    summary["unhealthy"] = outputs.unhealthy_cells(plan, rows)
    if report:
        tracker.close()  # the report reads the curves from MLflow: every queued write first
        summary["report"] = outputs.make_report(plan.out, progress)
    if isinstance(tracker, NullTracker):
        summary["tracking"] = "off"
    return summary


def _work_showing_progress(plan: StudyPlan, storage: Any, tracker: Tracker, progress: bool) -> None:
    """This process's share of the work, with the overall progress bar and a line per finished cell."""
    from tqdm import tqdm

    total = sum(c.budget + len(plan.study.config.seeds) for c in plan.cells)
    total += sum(c.budget for c in plan.study.sweeps)

    def done() -> int:
        return count_progress(plan, storage) + sweeps.sweep_progress(plan, storage)

    bar = tqdm(
        total=total,
        desc=plan.study.name,
        unit="run",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    bar.update(done())

    def on_progress() -> None:
        if plan.workers == 1:
            bar.update(1)
        else:
            bar.n = done()
            bar.refresh()

    def on_cell(cell: Cell) -> None:  # a result, not an error: stdout (tox shows stderr in red)
        line = sweeps.sweep_line(storage, cell) if isinstance(cell, sweeps.SweepCell) else None
        bar.write(line or outputs.cell_line(plan, storage, cell), file=sys.stdout)

    work(plan, on_progress, on_cell, tracker)
    bar.n = done()
    bar.close()
