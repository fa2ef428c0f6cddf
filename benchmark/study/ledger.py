"""The trial ledger: each cell's two Optuna studies, what they hold and what is left to do.

* ``"{study}/{cell}/tune"``: the paper defaults are enqueued as the first trial; workers run trials while
  budget slots are open (see :mod:`benchmark.tuning`).
* ``"{study}/{cell}/repeats"``: one WAITING trial per seed (params ``{seed}``); workers pop them once the
  tuning of the cell has finished. A repeat's results row is stored in the trial (``discrimbench.result``),
  so ``results.csv`` is a pure function of the storage and any worker can (re)write it.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from benchmark import interrupts
from benchmark.config import Cell
from benchmark.health import tuning_failures
from benchmark.naming import task_direction
from benchmark.runs import RunResult
from benchmark.space import Choice
from benchmark.study.plan import StudyPlan, study_name
from benchmark.tuning import (
    ATTR,
    RECONNECT_S,
    SlotSeededSampler,
    budget_trials,
    count_trials,
    fail_ownerless,
    interruption,
    make_pruner,
    open_storage,
    recover_dead_trials,
    retry_interrupted,
)

__all__ = [
    "Diverged",
    "Surplus",
    "best_params",
    "best_trial",
    "cell_rows",
    "cell_state",
    "collect_rows",
    "count_progress",
    "holds",
    "open_store",
    "optimize_one",
    "prepare_cell",
    "prepare_repeats",
    "repeat_study",
    "resolved",
    "result_row",
    "tune_study",
    "tuning_open",
    "tuning_summary",
    "unstick",
]


class Surplus(Exception):
    """A trial started after the budget (or its seed) was already taken; it is ignored."""


class Diverged(Exception):
    """The run returned ``status="failed"`` (NaN/Inf); the trial is recorded FAIL with the reason."""


# ---- the two studies of a cell ----------------------------------------------------------------------


def open_store(plan: StudyPlan) -> optuna.storages.BaseStorage:
    """The plan's Optuna storage, with the heartbeat settings of the study file."""
    s = plan.study.config.storage
    return open_storage(
        plan.storage_url, heartbeat_interval=s.heartbeat_interval, grace_period=s.grace_period
    )


_STUDIES: dict[tuple[int, str], optuna.Study] = {}


def tune_study(plan: StudyPlan, storage: Any, cell: Cell) -> optuna.Study:
    """The cell's tuning study (created on first use, then cached per storage)."""
    key = (id(storage), study_name(cell, "tune"))
    if key not in _STUDIES:
        _STUDIES[key] = _create_tune_study(plan, storage, cell)
    return _STUDIES[key]


def _create_tune_study(plan: StudyPlan, storage: Any, cell: Cell) -> optuna.Study:
    return optuna.create_study(
        storage=storage,
        study_name=study_name(cell, "tune"),
        sampler=SlotSeededSampler(plan.study.config.tuning.sampler_seed),
        pruner=make_pruner(plan.study.config.tuning.pruner, plan.study.config.tuning.prune_startup_trials),
        direction=task_direction(cell.task),
        load_if_exists=True,
    )


def repeat_study(storage: Any, cell: Cell) -> optuna.Study:
    """The cell's repeats study (one trial per seed; created on first use, then cached per storage)."""
    key = (id(storage), study_name(cell, "repeats"))
    if key not in _STUDIES:
        _STUDIES[key] = _create_repeat_study(storage, cell)
    return _STUDIES[key]


def _create_repeat_study(storage: Any, cell: Cell) -> optuna.Study:
    return optuna.create_study(
        storage=storage,
        study_name=study_name(cell, "repeats"),
        direction=task_direction(cell.task),
        load_if_exists=True,
    )


def prepare_cell(plan: StudyPlan, storage: Any, cell: Cell, tags: dict[str, str]) -> optuna.Study:
    """Create the cell's tuning study with its ``tags`` and enqueue the paper defaults (idempotent)."""
    tune = tune_study(plan, storage, cell)
    if not tune.user_attrs:
        for key, value in tags.items():
            tune.set_user_attr(key, value)
    if not tune.get_trials(deepcopy=False):
        defaults = {k: cell.defaults[k] for k, d in cell.space.items() if holds(d, cell.defaults.get(k))}
        tune.enqueue_trial(defaults, user_attrs={"discrimbench.defaults": True}, skip_if_exists=True)
    return tune


def prepare_repeats(plan: StudyPlan, storage: Any, cell: Cell) -> None:
    """Enqueue every seed not queued yet, then recover trials left RUNNING by dead local processes."""
    reps = repeat_study(storage, cell)
    present = {t.user_attrs.get(ATTR["seed"]) for t in reps.get_trials(deepcopy=False)}
    for seed in plan.study.config.seeds:
        if seed not in present:
            reps.enqueue_trial({"seed": seed}, user_attrs={ATTR["seed"]: seed})
    if plan.local_storage:
        recover_dead_trials(tune_study(plan, storage, cell), ownerless_dead=True)
        recover_dead_trials(reps, ownerless_dead=True)


def holds(dist: Any, value: Any) -> bool:
    """True when ``value`` can be enqueued for ``dist`` (inside its range or choices)."""
    if value is None:
        return False
    if isinstance(dist, Choice):
        return value in dist.choices
    return isinstance(value, int | float) and bool(dist.low <= value <= dist.high)


# ---- claiming and finishing trials ------------------------------------------------------------------


def optimize_one(study: optuna.Study, objective: Callable[[optuna.Trial], float]) -> None:
    """Run one trial. When its state was already finished by someone else (its heartbeat went stale while
    the database was away, so another worker failed it and queued a retry with the same parameters or
    seed), Optuna raises ``UpdateFinishedTrialError``: the retry does the work, this worker goes on.

    A trial stopped by something outside its method (Ctrl-C, SIGTERM, the database connection lost in
    mid-statement: :func:`~benchmark.tuning.interruption`) is recorded FAIL by Optuna, marked interrupted
    and queued again at once with the same parameters and slot (or seed), so it spends nothing of the
    budget; after a lost connection the worker goes on, after a signal it stops.

    A Ctrl-C or SIGTERM is held while Optuna asks for or tells the trial, raised at once inside the
    objective (:mod:`benchmark.interrupts`)."""
    started: list[int] = []

    def objective_at_once(trial: optuna.Trial) -> float:
        started.append(trial.number)
        try:
            with interrupts.at_once():
                return objective(trial)
        except BaseException as exc:
            if interruption(exc):
                with contextlib.suppress(Exception):  # the database may still be away: the fallback
                    trial.set_user_attr(ATTR["interrupted"], True)  # is the heartbeat or the dead pid
            raise

    with interrupts.held():
        try:
            study.optimize(objective_at_once, n_trials=1, catch=(Surplus, Diverged), gc_after_trial=False)
        except optuna.exceptions.UpdateFinishedTrialError:
            return
        except BaseException as exc:
            if not (started and interruption(exc)):
                raise
            retry_interrupted(study, {started[-1]})
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise


def tuning_open(study: optuna.Study, cell: Cell) -> bool:
    """Budget slots are still open in the cell's tuning study."""
    return count_trials(study.get_trials(deepcopy=False)).open(cell.budget, cell.extra_cap)


def cell_state(plan: StudyPlan, storage: Any, cell: Cell) -> str:
    """``tune`` (slots open), ``tune-busy``, ``repeat`` (seeds queued), ``repeat-busy`` or ``done``."""
    counts = count_trials(tune_study(plan, storage, cell).get_trials(deepcopy=False))
    if counts.open(cell.budget, cell.extra_cap):
        return "tune"
    if not counts.finished(cell.budget, cell.extra_cap):
        return "tune-busy"
    reps = repeat_study(storage, cell).get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in reps):
        return "repeat"
    done = {t.params.get("seed") for t in reps if ATTR["result"] in t.user_attrs}
    if not set(plan.study.config.seeds) <= done:
        return "repeat-busy"
    return "done"


def unstick(plan: StudyPlan, storage: Any, cell: Cell) -> None:
    """Fail trials of dead workers so waiting ones can go on (heartbeat for RDB, pid for local)."""
    for study in (tune_study(plan, storage, cell), repeat_study(storage, cell)):
        unstick_study(plan, study)


def unstick_study(plan: StudyPlan, study: optuna.Study) -> None:
    """Fail and re-queue one study's trials of dead workers: by process id on local storages, by
    heartbeat on RDB servers, or by a missing owner long after the start (a worker that died before its
    first heartbeat); the one rule for tuning, repeat and sweep studies."""
    if plan.local_storage:
        recover_dead_trials(study)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)
        fail_ownerless(study, after_s=plan.study.config.storage.grace_period + RECONNECT_S)
        retry_interrupted(study)  # stale trials failed before their retry callback ran, and the like


def count_progress(plan: StudyPlan, storage: Any) -> int:
    """Finished trials and repeats over all cells (the overall bar's position)."""
    n = 0
    for cell in plan.cells:
        counts = count_trials(tune_study(plan, storage, cell).get_trials(deepcopy=False))
        n += (
            cell.budget
            if counts.finished(cell.budget, cell.extra_cap)
            else min(counts.completed, cell.budget)
        )
        reps = repeat_study(storage, cell).get_trials(deepcopy=False)
        n += len({t.params.get("seed") for t in reps if ATTR["result"] in t.user_attrs})
    return n


# ---- what the tuning decided ------------------------------------------------------------------------


def best_trial(tune: optuna.Study, cell: Cell) -> FrozenTrial | None:
    """The best COMPLETE trial (ties → lowest trial number), None when no trial completed."""
    done = [t for t in budget_trials(tune.get_trials(deepcopy=False)) if t.state == TrialState.COMPLETE]
    if not done:
        return None
    sign = -1.0 if task_direction(cell.task) == "maximize" else 1.0
    return min(done, key=lambda t: (sign * float(t.value or 0.0), t.number))


def best_params(tune: optuna.Study, cell: Cell) -> tuple[dict[str, Any], str | None]:
    """The fixed values plus the best COMPLETE trial's parameters; the paper defaults with a note when
    no trial completed."""
    best = best_trial(tune, cell)
    if best is None:
        return dict(cell.fixed), "no tuning trial completed; paper defaults used"
    return {**cell.fixed, **best.params}, None


def tuning_summary(tune: optuna.Study, cell: Cell) -> dict[str, Any]:
    """A cell's trial accounting for its budget health: completed / pruned / failed trials, which trial
    won (``defaults``, ``draw N`` for the TPE draw in slot N, ``none``) and whether the budget completed."""
    counts = count_trials(tune.get_trials(deepcopy=False))
    best = best_trial(tune, cell)
    if best is None:
        won = "none"
    elif best.user_attrs.get("discrimbench.defaults"):
        won = "defaults"
    else:
        won = f"draw {best.user_attrs.get(ATTR['slot'], best.number)}"
    return {
        "trials_completed": counts.completed, "trials_pruned": counts.pruned,
        "trials_failed": counts.failed, "won_by": won,
        "failures": tuning_failures(counts.completed, cell.budget),
    }  # fmt: skip


# ---- results rows -----------------------------------------------------------------------------------


def resolved(result: RunResult) -> dict[str, Any]:
    """What the method derived for this run (e.g. Co-teaching's forget rate and its source)."""
    return dict(result.extra.get("method_resolved", {}))


def result_row(
    cell: Cell,
    result: RunResult,
    params: dict[str, Any],
    mlflow_run_id: str | None,
    tuning: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``results.csv`` row (``RESULT_COLUMNS``) for a repeat run; ``tuning`` is the cell's
    :func:`tuning_summary` (its failures join the run's own in ``health``)."""
    spec = result.spec
    tuning = tuning or {}
    health = result.health
    failures = [*tuning.get("failures", []), *health.get("failures", [])]
    used = json.dumps({**params, **resolved(result)}, sort_keys=True, default=str)
    values = {
        "study": cell.study, "dataset": cell.dataset, "noise": cell.noise, "rate": cell.rate,
        "method": cell.method_label, "registered_method": cell.method, "seed": spec.seed,
        "selection": cell.selection, "protocol": cell.protocol, "metric": result.metric,
        "higher_is_better": result.higher_is_better, "test_last": result.test_last,
        "test_best_val": result.test_best_val, "test_oracle": result.test_oracle, "val_best": result.val_best,
        "best_val_epoch": result.best_val_epoch, "realised_rate": result.realised_rate,
        "auroc_noisy_clean": result.auroc_noisy_clean, "auroc_noisy_hard": result.auroc_noisy_hard,
        "status": result.status, "reason": result.reason or "", "epochs": len(result.history),
        "model": result.extra.get("recipe", {}).get("model", ""),
        "n_trials": cell.budget, "params": used,
        "noisy_labels_sha256": result.noisy_labels_sha256, "wall_time_s": result.wall_time_s,
        "run_id": f"{cell.cell_id}/repeat/{spec.seed}", "mlflow_run_id": mlflow_run_id or "",
        "trials_completed": tuning.get("trials_completed"), "trials_pruned": tuning.get("trials_pruned"),
        "trials_failed": tuning.get("trials_failed"), "won_by": tuning.get("won_by", ""),
        "schedules_finished": health.get("schedules_finished"), "converged": health.get("converged"),
        "weights_collapsed": health.get("weights_collapsed"),
        "health": "; ".join(failures) if failures else ("ok" if health else ""),
    }  # fmt: skip
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def collect_rows(plan: StudyPlan, storage: Any | None = None) -> list[dict[str, Any]]:
    """Every repeat's results row, in cell order then seed order (a pure function of the storage)."""
    storage = storage or open_store(plan)
    return [row for cell in plan.cells for row in cell_rows(plan, storage, cell)]


def cell_rows(plan: StudyPlan, storage: Any, cell: Cell) -> list[dict[str, Any]]:
    """The results rows of one cell's repeats, in seed order."""
    by_seed: dict[int, dict[str, Any]] = {}
    for t in sorted(repeat_study(storage, cell).get_trials(deepcopy=False), key=lambda t: t.number):
        if ATTR["result"] in t.user_attrs and not t.user_attrs.get(ATTR["surplus"]):
            row = json.loads(t.user_attrs[ATTR["result"]])
            by_seed.setdefault(int(row["seed"]), row)
    return [by_seed[s] for s in plan.study.config.seeds if s in by_seed]
