"""The MLflow parent run of each cell: opened with the cell, closed with its aggregates and health,
ended KILLED when the study is interrupted and reopened when it resumes."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import optuna

from benchmark.config import Cell
from benchmark.health import cell_health
from benchmark.host_process import pid_alive
from benchmark.study.ledger import cell_rows, cell_state, open_store, tune_study
from benchmark.study.plan import StudyPlan
from benchmark.tracking import Tracker
from benchmark.tuning import owner_id

__all__ = [
    "CLAIM_SUFFIX",
    "await_parents",
    "cell_tags",
    "claims_parent",
    "end_open_parents",
    "finish_parent",
    "open_parent",
    "parent_health",
    "parent_of",
    "record_parent",
]

_PARENT = "discrimbench.mlflow_parent"
_INTERRUPTED = "discrimbench.parent_interrupted"
_CLAIMANT = "discrimbench.claimant"  # host:pid of the process that claimed a parent run
CLAIM_SUFFIX = "/parent-claim"  # the study whose creation elects the machine that opens a parent run


def cell_tags(cell: Cell) -> dict[str, str]:
    """The tags that name a cell, on its tuning study, its parent run and every run of it."""
    return {
        "discrimbench.study": cell.study,
        "discrimbench.cell": cell.cell_id,
        "discrimbench.dataset": cell.dataset,
        "discrimbench.noise": cell.noise,
        "discrimbench.rate": f"{cell.rate:g}",
        "discrimbench.method": cell.method_label,
        "discrimbench.selection": cell.selection,
        "discrimbench.protocol": cell.protocol,
        **cell.extra_tags,
    }


def parent_of(tune: optuna.Study) -> str | None:
    """The MLflow run id of the cell's parent run, None when it has none (yet)."""
    parent = tune.user_attrs.get(_PARENT)
    return str(parent) if parent else None


def open_parent(tracker: Tracker, tune: optuna.Study, cell: Cell, claim: Any = None) -> str | None:
    """Start the cell's parent run unless it has one (returns the tracker's key for it, to be recorded
    with :func:`record_parent`); reopen one an interrupted run ended KILLED.

    ``claim``: the Optuna storage of a study shared by several machines. Only the machine that wins the
    cell's claim (:func:`claims_parent`) starts the parent run; the others get ``None`` and wait for its
    id with :func:`await_parents`, so machines that set up together open one parent run per cell."""
    if tracker.enabled and not tune.user_attrs.get(_PARENT):
        if claim is not None and not claims_parent(claim, tune):
            return None
        return tracker.cell_run(cell.cell_id, {**cell_tags(cell), "discrimbench.role": "cell"})
    if tracker.enabled and tune.user_attrs.get(_INTERRUPTED):
        tracker.reopen(tune.user_attrs[_PARENT])
        tune.set_user_attr(_INTERRUPTED, False)
    return None


def claims_parent(storage: Any, tune: optuna.Study) -> bool:
    """Whether this process opens the cell's parent run: Optuna creates a study name once (a unique key
    in the RDB storage), so of the machines setting up one shared study together exactly one creates the
    cell's claim study ``<tuning study>/parent-claim``, recording itself (``host:pid``) on it. A claim whose
    process on this host is gone (it died between claim and record) is taken over at once."""
    name = _claim_name(tune)
    for _ in range(2):
        try:
            claim = optuna.create_study(study_name=name, storage=storage)
        except optuna.exceptions.DuplicatedStudyError:
            if not _claimant_gone(storage, name):
                return False
            with contextlib.suppress(KeyError):  # another process took it over first: its create decides
                optuna.delete_study(study_name=name, storage=storage)
            continue
        claim.set_user_attr(_CLAIMANT, owner_id())
        return True
    return False


def _claim_name(tune: optuna.Study) -> str:
    return f"{tune.study_name}{CLAIM_SUFFIX}"


def _claimant_gone(storage: Any, name: str) -> bool:
    """The claim's process ran on this host and is dead (another host's claimant cannot be checked)."""
    try:
        owner = str(optuna.load_study(study_name=name, storage=storage).user_attrs.get(_CLAIMANT, ""))
    except KeyError:
        return True  # deleted meanwhile: free to claim
    host, _, pid = owner.rpartition(":")
    return bool(owner) and host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def await_parents(plan: StudyPlan, storage: Any, cells: list[Cell], patience_s: float = 120.0) -> list[Cell]:
    """Wait until the processes that claimed ``cells`` recorded their parent runs; returns the cells still
    without one: at once where the claimant was a dead process of this host, else after ``patience_s``
    (open those here)."""
    deadline = time.monotonic() + patience_s
    waiting, orphaned = list(cells), []
    while waiting and time.monotonic() < deadline:
        pending = [c for c in waiting if not parent_of(tune_study(plan, storage, c))]
        gone = [
            c
            for c in pending
            if _claimant_gone(storage, f"{tune_study(plan, storage, c).study_name}{CLAIM_SUFFIX}")
        ]
        orphaned += gone
        waiting = [c for c in pending if c not in gone]
        if waiting:
            time.sleep(0.2)
    return orphaned + waiting


def record_parent(tracker: Tracker, tune: optuna.Study, key: str | None) -> None:
    """Store the run id of a parent run :func:`open_parent` started (once the tracker knows it)."""
    parent = tracker.run_id(key)
    if parent:
        tune.set_user_attr(_PARENT, parent)


def end_open_parents(plan: StudyPlan, tracker: Tracker) -> None:
    """Ctrl-C or SIGTERM: the parent runs of unfinished cells end KILLED (reopened when the study resumes)."""
    if not tracker.enabled:
        return
    with contextlib.suppress(Exception):  # the interrupt is what the user sees, not a storage hiccup
        storage = open_store(plan)
        for cell in plan.cells:
            tune = tune_study(plan, storage, cell)
            parent = parent_of(tune)
            if parent and cell_state(plan, storage, cell) != "done":
                tracker.finish(parent, "KILLED", {"discrimbench.status": "interrupted"})
                tune.set_user_attr(_INTERRUPTED, True)


def finish_parent(tracker: Tracker, plan: StudyPlan, storage: Any, cell: Cell) -> None:
    """Close a done cell's parent run with its aggregate metrics and health tags (cell_aggregates)."""
    if not tracker.enabled:
        return
    parent = parent_of(tune_study(plan, storage, cell))
    if parent:
        from benchmark.cell_aggregates import cell_aggregates  # scipy: imported only once a cell is done

        rows = cell_rows(plan, storage, cell)
        metrics, tags = cell_aggregates(rows)
        health_metrics, health_tags = parent_health(rows)
        tracker.log_epoch(parent, 0, {**metrics, **health_metrics})
        tracker.finish(parent, "FINISHED", {**tags, **health_tags})


def parent_health(rows: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, str]]:
    """The budget health of a cell for its MLflow parent run: ``health/*`` metrics (trial counts, runs
    failing each check) and ``discrimbench.health`` tags (``ok`` / ``fail`` and the failures)."""
    healthy, failures = cell_health(rows)
    first = rows[0] if rows else {}
    metrics = {
        f"health/{k}": float(first[k]) for k in ("trials_completed", "trials_pruned", "trials_failed")
        if first.get(k) is not None
    }  # fmt: skip
    metrics["health/runs_not_converged"] = float(sum(r.get("converged") is False for r in rows))
    metrics["health/runs_schedule_unfinished"] = float(
        sum(r.get("schedules_finished") is False for r in rows)
    )
    metrics["health/runs_weights_collapsed"] = float(sum(r.get("weights_collapsed") is True for r in rows))
    tags = {
        "discrimbench.health": "ok" if healthy else "fail",
        "discrimbench.health_failures": "; ".join(failures)[:5000],
        "discrimbench.won_by": str(first.get("won_by") or ""),
    }
    return metrics, tags
