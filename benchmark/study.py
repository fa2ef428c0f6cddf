"""Run a study: tune every cell with Optuna, repeat the best hyperparameters over the seeds, write outputs.

Work is claimed through the Optuna storage, so one process, ``--workers N`` local processes (journal file)
or many machines (PostgreSQL) run the same code and never do a run twice:

* ``"{study}/{cell}/tune"``: the paper defaults are enqueued as the first trial; workers run trials while
  budget slots are open (see :mod:`benchmark.tuning`).
* ``"{study}/{cell}/repeats"``: one WAITING trial per seed (params ``{seed}``); workers pop them once the
  tuning of the cell has finished. A repeat's results row is stored in the trial (``discrimbench.result``),
  so ``results.csv`` is a pure function of the storage and any worker can (re)write it.

Killing a worker at any moment is safe: on the next start (SQLite / journal: the owner ``host:pid`` is dead;
RDB: the heartbeat went stale) its RUNNING trial is failed and re-queued with the same slot and params.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from benchmark.config import SELECTION_SERIES, Cell, ResolvedStudy
from benchmark.errors import StudyConfigError, output_error
from benchmark.health import cell_health, tuning_failures
from benchmark.preflight import preflight
from benchmark.runs import RESULT_COLUMNS, RunResult, RunSpec
from benchmark.tracking import (
    OWNER_TAG,
    UNIT_TAG,
    NullTracker,
    SharedMlflowTracker,
    Tracker,
    WriterHandle,
    make_tracker,
    mask_url,
)
from benchmark.tuning import (
    ATTR,
    SlotSeededSampler,
    budget_trials,
    claim_slot,
    count_trials,
    make_pruner,
    may_prune,
    open_storage,
    owner_id,
    prune_warmup,
    recover_dead_trials,
    storage_failure,
    suggest,
)

__all__ = ["StudyPlan", "collect_rows", "plan_study", "run_study", "write_results"]

_SEED_MAX = 2**62
_ORACLE_NOTE = "test-oracle: hyperparameters tuned on the TEST set (for parity with papers only)"


class _Surplus(Exception):
    """A trial started after the budget (or its seed) was already taken; it is ignored."""


class _Diverged(Exception):
    """The run returned ``status="failed"`` (NaN/Inf); the trial is recorded FAIL with the reason."""


@dataclass
class StudyPlan:
    """Everything a worker needs (picklable, so spawned worker processes receive it whole)."""

    study: ResolvedStudy
    storage_url: str
    tracking_uri: str | None
    workers: int = 1
    local_storage: bool = True  # SQLite / journal: recover trials of dead local owners
    threads: int | None = None

    @property
    def out(self) -> Path:
        return self.study.out

    @property
    def cells(self) -> list[Cell]:
        return self.study.cells


def plan_study(
    study: ResolvedStudy, *, storage: str | None = None, tracking_uri: str | None = None, workers: int = 1
) -> StudyPlan:
    """Decide the storage and tracking locations (defaults: files in the study folder), then check
    everything the run needs with :func:`benchmark.preflight.preflight` (writes nothing).

    Raises:
        StudyConfigError: anything the run would refuse, as one line.
    """
    if workers < 1:
        raise StudyConfigError(f"--workers must be >= 1, got {workers}")
    out = study.out
    url = storage or study.config.storage.optuna
    if url is None:
        journal, sqlite = out / "optuna.journal", out / "optuna.db"
        if sqlite.exists() and not journal.exists():
            if workers > 1:
                raise StudyConfigError(
                    f"{out} already holds a SQLite Optuna store (optuna.db), which is for one process only; "
                    "rerun without --workers or pass --storage"
                )
            url = f"sqlite:///{sqlite.resolve()}"
        elif journal.exists() or workers > 1:
            url = str(journal.resolve())
        else:
            url = f"sqlite:///{sqlite.resolve()}"
    elif url.startswith("sqlite") and workers > 1:
        raise StudyConfigError(
            f"--storage {url} is SQLite, which is for one process; use a journal or PostgreSQL"
        )
    tracking = tracking_uri if tracking_uri is not None else study.config.storage.mlflow
    local = url.startswith("sqlite") or url.endswith(".journal") or url.startswith("journal://")
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    plan = StudyPlan(study, url, tracking, workers, local, threads)
    preflight(plan)  # the dry run and the real run both stop here on anything the run would refuse
    return plan


def study_name(cell: Cell, kind: str) -> str:
    return f"{cell.study}/{cell.cell_id}/{kind}"


# ---- storage setup --------------------------------------------------------------------------------


def _open(plan: StudyPlan) -> optuna.storages.BaseStorage:
    s = plan.study.config.storage
    return open_storage(
        plan.storage_url, heartbeat_interval=s.heartbeat_interval, grace_period=s.grace_period
    )


_STUDIES: dict[tuple[int, str], optuna.Study] = {}


def _tune_study(plan: StudyPlan, storage: Any, cell: Cell) -> optuna.Study:
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
        direction="maximize" if cell.task == "classification" else "minimize",
        load_if_exists=True,
    )


def _repeat_study(storage: Any, cell: Cell) -> optuna.Study:
    key = (id(storage), study_name(cell, "repeats"))
    if key not in _STUDIES:
        _STUDIES[key] = _create_repeat_study(storage, cell)
    return _STUDIES[key]


def _create_repeat_study(storage: Any, cell: Cell) -> optuna.Study:
    return optuna.create_study(
        storage=storage,
        study_name=study_name(cell, "repeats"),
        direction="maximize" if cell.task == "classification" else "minimize",
        load_if_exists=True,
    )


def setup_storage(plan: StudyPlan, tracker: Tracker) -> None:
    """Create the studies, enqueue the defaults and the seeds, open the cells' MLflow parent runs, and
    recover trials left RUNNING by dead local processes. Idempotent."""
    storage = _open(plan)
    if plan.local_storage:
        tracker.reap()  # runs of dead local processes end KILLED; their retries will link to them
    parents: list[tuple[Cell, str | None]] = []  # cells and the keys of their parent runs, being created
    for cell in plan.cells:
        tune = _tune_study(plan, storage, cell)
        if not tune.user_attrs:
            for key, value in _cell_tags(cell).items():
                tune.set_user_attr(key, value)
        if not tune.get_trials(deepcopy=False):
            defaults = {k: cell.defaults[k] for k, d in cell.space.items() if _holds(d, cell.defaults.get(k))}
            tune.enqueue_trial(defaults, user_attrs={"discrimbench.defaults": True}, skip_if_exists=True)
        if tracker.enabled and not tune.user_attrs.get("discrimbench.mlflow_parent"):
            tags = {**_cell_tags(cell), "discrimbench.role": "cell"}
            parents.append((cell, tracker.cell_run(cell.cell_id, tags)))
        elif tracker.enabled and tune.user_attrs.get("discrimbench.parent_interrupted"):
            tracker.reopen(tune.user_attrs["discrimbench.mlflow_parent"])
            tune.set_user_attr("discrimbench.parent_interrupted", False)
        reps = _repeat_study(storage, cell)
        present = {t.user_attrs.get(ATTR["seed"]) for t in reps.get_trials(deepcopy=False)}
        for seed in plan.study.config.seeds:
            if seed not in present:
                reps.enqueue_trial({"seed": seed}, user_attrs={ATTR["seed"]: seed})
        if plan.local_storage:
            recover_dead_trials(tune, ownerless_dead=True)
            recover_dead_trials(reps, ownerless_dead=True)
    for cell, key in parents:
        parent = tracker.run_id(key)
        if parent:
            _tune_study(plan, storage, cell).set_user_attr("discrimbench.mlflow_parent", parent)


def _holds(dist: Any, value: Any) -> bool:
    """True when ``value`` can be enqueued for ``dist`` (inside its range or choices)."""
    from baselines._base import Choice

    if value is None:
        return False
    if isinstance(dist, Choice):
        return value in dist.choices
    return isinstance(value, int | float) and dist.low <= value <= dist.high


def masked(value: Any) -> Any:
    """``value`` with the password of every URL in it replaced by ``***`` (what is logged or written)."""
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def _cell_tags(cell: Cell) -> dict[str, str]:
    return {
        "discrimbench.study": cell.study,
        "discrimbench.cell": cell.cell_id,
        "discrimbench.dataset": cell.dataset,
        "discrimbench.noise": cell.noise,
        "discrimbench.rate": f"{cell.rate:g}",
        "discrimbench.method": cell.method,
        "discrimbench.selection": cell.selection,
        "discrimbench.protocol": cell.protocol,
    }


# ---- one run ------------------------------------------------------------------------------------------


@dataclass
class _Worker:
    plan: StudyPlan
    tracker: Tracker
    storage: Any
    on_progress: Callable[[], None] = lambda: None
    env: dict[str, Any] = field(default_factory=dict)

    def spec(self, cell: Cell, params: dict[str, Any], seed: int) -> RunSpec:
        t = self.plan.study.config.training
        return RunSpec(
            dataset=cell.dataset, noise=cell.noise, rate=cell.rate, method=cell.method, params=params,
            seed=seed, device=t.device, epochs=t.epochs, recipe=dict(t.recipe), recipe_kind=t.recipe_kind,
            dataset_kwargs=dict(cell.dataset_kwargs), noise_params=dict(cell.noise_params),
            val_fraction=t.val_fraction, data_root=t.data_root,
        )  # fmt: skip

    def execute(
        self,
        cell: Cell,
        role: str,
        seed: int,
        params: dict[str, Any],
        trial: optuna.Trial | None,
        parent: str | None,
    ) -> tuple[RunResult, str | None]:
        """Train one run, tracked; pruning through ``trial`` (tuning only), never before the method's
        schedules have run (:func:`benchmark.tuning.prune_warmup`) nor before the cell has
        ``prune_startup_trials`` completed trials."""
        from benchmark.data import prepare
        from benchmark.training import planned_schedule, train_run

        spec = self.spec(cell, params, seed)
        data = prepare(
            spec.dataset, spec.noise, spec.rate, spec.seed, noise_params=spec.noise_params,
            dataset_kwargs=spec.dataset_kwargs, val_fraction=spec.val_fraction, data_root=spec.data_root,
            recipe_kind=spec.recipe_kind,
        )  # fmt: skip
        hardness = None if data.train.hardness is not None else self._load_hardness(cell.dataset, seed)
        tags = {**_cell_tags(cell), "discrimbench.role": role, "discrimbench.seed": str(seed)}
        tags[OWNER_TAG] = owner_id()
        tags[UNIT_TAG] = f"{cell.cell_id}/{role}/seed{seed}"
        if trial is not None:
            tags["discrimbench.trial"] = str(trial.number)
            tags[UNIT_TAG] = f"{cell.cell_id}/{role}/slot{trial.user_attrs.get(ATTR['slot'], trial.number)}"
        name = f"{cell.cell_id}/{role}/" + (f"{trial.number}" if trial is not None else f"seed{seed}")
        run_id = self.tracker.start(parent, name, tags, {**params, "seed": seed})
        config = {"spec": spec.to_dict(), "cell": cell.cell_id, "selection": cell.selection}
        self.tracker.log_json(run_id, "config.json", {**config, "study": masked(self.plan.study.raw)})
        self.tracker.log_json(run_id, "noise_manifest.json", {
            "noise": cell.noise, "rate": cell.rate, "realised_rate": data.realised_rate,
            "transition": data.transition, "noisy_labels_sha256": data.noisy_labels_sha256,
        })  # fmt: skip
        self.tracker.log_json(run_id, "environment.json", self.env)
        series = SELECTION_SERIES[cell.selection].format(m="acc" if cell.task == "classification" else "mae")
        tuning = self.plan.study.config.tuning
        warmup, completed = 0, 0
        if trial is not None:
            schedule, epochs = planned_schedule(spec, data)
            warmup = prune_warmup(schedule, epochs, tuning.prune_warmup_fraction)
            completed = count_trials(trial.study.get_trials(deepcopy=False)).completed

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            self.tracker.log_epoch(run_id, epoch, metrics)
            value = metrics.get(series, math.nan)
            if trial is not None and math.isfinite(value):
                trial.report(value, epoch)
                if may_prune(epoch, warmup, completed, tuning.prune_startup_trials) and trial.should_prune():
                    trial.set_user_attr(ATTR["status"], "pruned")
                    raise optuna.TrialPruned(f"pruned at epoch {epoch} ({series}={value:.4g})")

        try:
            result = train_run(
                spec, data=data, hardness=hardness, selection=cell.selection, on_epoch=on_epoch
            )
        except optuna.TrialPruned:
            self.tracker.finish(run_id, "KILLED", {"discrimbench.status": "pruned"})
            raise
        except (KeyboardInterrupt, SystemExit):  # Ctrl-C or SIGTERM: the run is retried by the next run
            self.tracker.finish(run_id, "KILLED", {"discrimbench.status": "interrupted"})
            raise
        except BaseException as exc:
            self.tracker.finish(
                run_id, "FAILED", {"discrimbench.status": "error", "discrimbench.reason": repr(exc)}
            )
            raise
        if cell.provides_hardness and result.status == "ok":
            self._save_hardness(cell.dataset, seed, result, run_id)
        if role == "repeat":
            weights = result.sample_weights
            self.tracker.log_arrays(run_id, "sample_weights.npz", {
                "weights": np.asarray(weights if weights is not None else [], dtype=np.float32),
                "corrupted": data.train_mask.numpy().astype(bool),
                "hardness": np.asarray(hardness if hardness is not None else [], dtype=np.float32),
            })  # fmt: skip
        status_tags = {"discrimbench.status": result.status, "discrimbench.reason": result.reason or ""}
        status_tags.update({f"discrimbench.{k}": str(v) for k, v in _resolved(result).items()})
        self.tracker.finish(run_id, "FINISHED" if result.status == "ok" else "FAILED", status_tags)
        return result, self.tracker.run_id(run_id)

    # -- hardness from clean-label CE runs (same seed → same split, so indices line up) --
    def _hardness_path(self, dataset: str, seed: int) -> Path:
        return self.plan.out / "hardness" / dataset / f"seed-{seed}.npy"

    def _load_hardness(self, dataset: str, seed: int) -> np.ndarray | None:
        path = self._hardness_path(dataset, seed)
        return np.load(path) if path.exists() else None

    def _save_hardness(self, dataset: str, seed: int, result: RunResult, run_id: str | None) -> None:
        values = result.hardness
        path = self._hardness_path(dataset, seed)
        if values is None or path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, np.asarray(values, dtype=np.float32))
        os.replace(tmp, path)
        if run_id is not None and self.tracker.enabled:
            self.tracker.log_arrays(
                run_id, "hardness.npz", {"hardness": np.asarray(values, dtype=np.float32)}
            )

    # -- tuning --
    def tune(self, cell: Cell) -> None:
        study = _tune_study(self.plan, self.storage, cell)
        parent = study.user_attrs.get("discrimbench.mlflow_parent")

        def objective(trial: optuna.Trial) -> float:
            try:
                slot = claim_slot(study, trial, cell.budget, cell.extra_cap)
                if slot is None:
                    raise _Surplus("budget already spent")
                space = cell.space
                if trial.user_attrs.get("discrimbench.defaults"):
                    # the paper-defaults trial draws nothing a default cannot fill: a None default
                    # ("derived by the method") or one outside the searched range keeps the method's value
                    space = {k: v for k, v in space.items() if _holds(v, cell.defaults.get(k))}
                params = {**cell.fixed, **suggest(trial, space)}
                result, run_id = self.execute(
                    cell, "trial", self.plan.study.config.tuning.seed, params, trial, parent
                )
                trial.set_user_attr(ATTR["mlflow"], run_id or "")
                trial.set_user_attr(ATTR["status"], result.status)
                value = result.val_best
                if result.status != "ok" or not math.isfinite(value):
                    reason = result.reason or f"no finite {cell.selection} value"
                    trial.set_user_attr(ATTR["reason"], reason)
                    raise _Diverged(reason)
                return float(value)
            except KeyboardInterrupt:
                trial.set_user_attr(ATTR["interrupted"], True)
                raise

        while _tuning_open(study, cell):
            _optimize_one(study, objective)
            self.on_progress()

    # -- repeats --
    def repeat(self, cell: Cell) -> None:
        tune = _tune_study(self.plan, self.storage, cell)
        parent = tune.user_attrs.get("discrimbench.mlflow_parent")
        params, note = best_params(tune, cell)
        accounting = tuning_summary(tune, cell)
        study = _repeat_study(self.storage, cell)

        def objective(trial: optuna.Trial) -> float:
            trial.set_user_attr(ATTR["owner"], owner_id())
            frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
            if "seed" not in frozen.params and "seed" not in frozen.system_attrs.get("fixed_params", {}):
                trial.set_user_attr(ATTR["surplus"], True)
                raise _Surplus("no queued seed")
            seed = trial.suggest_int("seed", 0, _SEED_MAX)
            for other in study.get_trials(deepcopy=False):
                taken = other.state == TrialState.RUNNING or ATTR["result"] in other.user_attrs
                if other.number < trial.number and other.params.get("seed") == seed and taken:
                    trial.set_user_attr(ATTR["surplus"], True)
                    raise _Surplus(f"seed {seed} already taken")
            result, run_id = self.execute(cell, "repeat", seed, params, None, parent)
            row = result_row(cell, result, params, run_id, accounting)
            trial.set_user_attr(ATTR["result"], json.dumps(row))
            if note:
                trial.set_user_attr("discrimbench.note", note)
            if result.status != "ok":
                raise _Diverged(result.reason or "failed")
            value = result.val_best
            return float(value) if math.isfinite(value) else 0.0

        while any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False)):
            _optimize_one(study, objective)
            self.on_progress()


def _optimize_one(study: optuna.Study, objective: Callable[[optuna.Trial], float]) -> None:
    """Run one trial. When its state was already finished by someone else (its heartbeat went stale while
    the database was away, so another worker failed it and queued a retry with the same parameters or
    seed), Optuna raises ``UpdateFinishedTrialError``: the retry does the work, this worker goes on."""
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        study.optimize(objective, n_trials=1, catch=(_Surplus, _Diverged), gc_after_trial=False)


def _tuning_open(study: optuna.Study, cell: Cell) -> bool:
    return count_trials(study.get_trials(deepcopy=False)).open(cell.budget, cell.extra_cap)


def best_trial(tune: optuna.Study, cell: Cell) -> optuna.trial.FrozenTrial | None:
    """The best COMPLETE trial (ties → lowest trial number), None when no trial completed."""
    done = [t for t in budget_trials(tune.get_trials(deepcopy=False)) if t.state == TrialState.COMPLETE]
    if not done:
        return None
    sign = -1.0 if cell.task == "classification" else 1.0
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


def _resolved(result: RunResult) -> dict[str, Any]:
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
    used = json.dumps({**params, **_resolved(result)}, sort_keys=True, default=str)
    values = {
        "study": cell.study, "dataset": cell.dataset, "noise": cell.noise, "rate": cell.rate,
        "method": cell.method, "seed": spec.seed, "selection": cell.selection, "protocol": cell.protocol,
        "metric": result.metric,
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


# ---- cell states and scheduling ------------------------------------------------------------------


def cell_state(plan: StudyPlan, storage: Any, cell: Cell) -> str:
    """``tune`` (slots open), ``tune-busy``, ``repeat`` (seeds queued), ``repeat-busy`` or ``done``."""
    counts = count_trials(_tune_study(plan, storage, cell).get_trials(deepcopy=False))
    if counts.open(cell.budget, cell.extra_cap):
        return "tune"
    if not counts.finished(cell.budget, cell.extra_cap):
        return "tune-busy"
    reps = _repeat_study(storage, cell).get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in reps):
        return "repeat"
    done = {t.params.get("seed") for t in reps if ATTR["result"] in t.user_attrs}
    if not set(plan.study.config.seeds) <= done:
        return "repeat-busy"
    return "done"


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
    storage = _open(plan)
    tracker = tracker or make_tracker(plan.tracking_uri, plan.study.name, plan.out)
    worker = _Worker(plan, tracker, storage, on_progress, environment())
    pending = list(plan.cells)
    idle = _IDLE_POLL_S[0]
    while pending:
        progressed = False
        for cell in list(pending):
            if _blocked(cell, pending):
                continue  # its dataset's clean CE cell (the hardness source) is not done yet
            state = cell_state(plan, storage, cell)
            if state == "tune":
                worker.tune(cell)
            elif state == "repeat":
                worker.repeat(cell)
            elif state == "done":
                pending.remove(cell)
                _finish_parent(tracker, plan, storage, cell)
                on_cell(cell)
            else:
                _unstick(plan, storage, cell)
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


def _unstick(plan: StudyPlan, storage: Any, cell: Cell) -> None:
    """Fail trials of dead workers so waiting ones can go on (heartbeat for RDB, pid for local)."""
    for study in (_tune_study(plan, storage, cell), _repeat_study(storage, cell)):
        if plan.local_storage:
            recover_dead_trials(study)
        else:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optuna.storages.fail_stale_trials(study)


def _finish_parent(tracker: Tracker, plan: StudyPlan, storage: Any, cell: Cell) -> None:
    """Close a done cell's parent run with its aggregate metrics and health tags (cell_aggregates)."""
    if not tracker.enabled:
        return
    parent = _tune_study(plan, storage, cell).user_attrs.get("discrimbench.mlflow_parent")
    if parent:
        from benchmark.cell_aggregates import cell_aggregates  # scipy: imported only once a cell is done

        rows = _cell_rows(plan, storage, cell)
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


# ---- outputs --------------------------------------------------------------------------------------


def collect_rows(plan: StudyPlan, storage: Any | None = None) -> list[dict[str, Any]]:
    """Every repeat's results row, in cell order then seed order (a pure function of the storage)."""
    storage = storage or _open(plan)
    return [row for cell in plan.cells for row in _cell_rows(plan, storage, cell)]


def _cell_rows(plan: StudyPlan, storage: Any, cell: Cell) -> list[dict[str, Any]]:
    """The results rows of one cell's repeats, in seed order."""
    by_seed: dict[int, dict[str, Any]] = {}
    for t in sorted(_repeat_study(storage, cell).get_trials(deepcopy=False), key=lambda t: t.number):
        if ATTR["result"] in t.user_attrs and not t.user_attrs.get(ATTR["surplus"]):
            row = json.loads(t.user_attrs[ATTR["result"]])
            by_seed.setdefault(int(row["seed"]), row)
    return [by_seed[s] for s in plan.study.config.seeds if s in by_seed]


def write_results(plan: StudyPlan, rows: list[dict[str, Any]]) -> Path:
    """Write ``results.csv`` atomically (temp file + rename)."""
    import pandas as pd

    path = plan.out / "results.csv"
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    tmp = path.with_name(f".results.{os.getpid()}.tmp")
    _atomic_write(tmp, path, lambda: frame.to_csv(tmp, index=False))
    return path


def _atomic_write(tmp: Path, path: Path, write: Callable[[], object]) -> None:
    """``write()`` the temporary file, then rename it over ``path``; on failure (disk full, read-only)
    remove the temporary file, leave ``path`` as it was and raise :class:`OutputError`."""
    try:
        write()
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(exc, path) from None


def check_writable(folder: Path) -> None:
    """Create ``folder`` and prove it writable before any work starts.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    probe = folder / f".write-probe.{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise output_error(exc, f"the output folder {folder}") from None


def environment() -> dict[str, Any]:
    """Package versions, git commit, python, platform, device: recorded with every run."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("discrimbench", "torch", "numpy", "optuna", "mlflow", "pandas", "scipy", "scikit-learn"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).parent,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    import torch

    return {
        "versions": versions, "git_commit": commit, "python": sys.version.split()[0],
        "platform": platform.platform(), "host": platform.node(), "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }  # fmt: skip


def write_study_json(plan: StudyPlan, storage: Any, started: float) -> Path:
    """``study.json``: resolved config, cells with their budgets and best params, versions, timings."""
    cells = []
    for cell in plan.cells:
        tune = _tune_study(plan, storage, cell)
        trials = budget_trials(tune.get_trials(deepcopy=False))
        reps = [
            t
            for t in _repeat_study(storage, cell).get_trials(deepcopy=False)
            if ATTR["result"] in t.user_attrs
        ]
        stamps = [t.datetime_start for t in trials + reps if t.datetime_start] + [
            t.datetime_complete for t in trials + reps if t.datetime_complete
        ]
        params, note = best_params(tune, cell)
        cells.append({
            "cell": cell.cell_id, "selection": cell.selection, "protocol": cell.protocol,
            "budget": cell.budget,
            "space": {k: repr(v) for k, v in cell.space.items()}, "best_params": params, "note": note,
            "trials": {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState},
            "wall_s": (max(stamps) - min(stamps)).total_seconds() if stamps else None,
        })  # fmt: skip
    selections = plan.study.config.tuning.selections()
    payload = {
        "study": plan.study.name, "source": plan.study.source,
        "config": masked(plan.study.config.model_dump(mode="json")),
        "selection": selections,
        "selection_warning": _ORACLE_NOTE if "test-oracle" in selections else None,
        "storage": {"optuna": mask_url(plan.storage_url), "mlflow": mask_url(plan.tracking_uri) or "default"},
        "workers": plan.workers, "environment": environment(), "cells": cells,
        "elapsed_s": time.time() - started,
    }  # fmt: skip
    path = plan.out / "study.json"
    tmp = path.with_name(f".study.{os.getpid()}.tmp")
    _atomic_write(tmp, path, lambda: tmp.write_text(json.dumps(payload, indent=2, default=str)))
    return path


# ---- entry point ------------------------------------------------------------------------------------


def _worker_main(plan: StudyPlan, writer: WriterHandle | None) -> None:
    tracker = NullTracker() if writer is None else SharedMlflowTracker(writer)
    try:
        work(plan, tracker=tracker)
    finally:
        tracker.close()


def _exit_with_parent(parent_pid: int) -> None:
    """Have Linux SIGKILL this worker when the ``discrimbench run`` process that started it dies.

    A killed study must leave its trials RUNNING under dead owners, which the next run retries with the
    same parameters; a worker that outlived its parent could no longer log to MLflow (the writer belongs
    to the parent) and would fail its trial instead. Elsewhere the worker notices at its next MLflow call.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _guarded_worker_main(plan: StudyPlan, writer: WriterHandle | None, parent_pid: int, release: Any) -> None:
    """A ``--workers`` helper process: imports the engine, waits for ``release`` (the storage is set up),
    then works. A lost storage is one line on stderr and exit code 2, not a traceback (the parent, itself
    a worker, takes over what the helper left)."""
    _exit_with_parent(parent_pid)
    for module in ("torch", "benchmark.data", "benchmark.training"):
        importlib.import_module(module)  # what the first run imports, loaded while the parent sets up
    release.wait()
    try:
        _worker_main(plan, writer)
    except Exception as exc:
        cause = storage_failure(exc)
        if cause is None or os.environ.get("DISCRIMBENCH_DEBUG"):
            raise
        print(
            f"discrimbench run: worker {os.getpid()}: error: {lost_storage_message(cause, plan)}",
            file=sys.stderr,
        )
        sys.exit(2)


def lost_storage_message(cause: BaseException, plan: StudyPlan) -> str:
    """One line for a storage that failed, or stayed away longer than the reconnect patience."""
    if isinstance(cause, optuna.exceptions.StorageInternalError) and cause.__cause__ is not None:
        cause = cause.__cause__
    reason = " ".join(str(getattr(cause, "orig", None) or cause).split())[:200]
    return (
        f"lost the Optuna storage {mask_url(plan.storage_url)} ({type(cause).__name__}: {mask_url(reason)}); "
        "finished trials are kept: re-run the same command to resume"
    )


def count_progress(plan: StudyPlan, storage: Any) -> int:
    """Finished trials and repeats over all cells (the overall bar's position)."""
    n = 0
    for cell in plan.cells:
        counts = count_trials(_tune_study(plan, storage, cell).get_trials(deepcopy=False))
        n += (
            cell.budget
            if counts.finished(cell.budget, cell.extra_cap)
            else min(counts.completed, cell.budget)
        )
        reps = _repeat_study(storage, cell).get_trials(deepcopy=False)
        n += len({t.params.get("seed") for t in reps if ATTR["result"] in t.user_attrs})
    return n


def run_study(plan: StudyPlan, *, report: bool = True, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the whole study and write its outputs; returns a short summary."""
    started = time.time()
    check_writable(plan.out)
    tracker = make_tracker(plan.tracking_uri, plan.study.name, plan.out, clients=plan.workers - 1)
    try:
        return _run_study(plan, tracker, started, report=report, progress=progress)
    except KeyboardInterrupt:
        _end_open_parents(plan, tracker)
        raise
    finally:
        tracker.close()  # waits for the MLflow writer process: nothing queued is lost


def _end_open_parents(plan: StudyPlan, tracker: Tracker) -> None:
    """Ctrl-C or SIGTERM: the parent runs of unfinished cells end KILLED (reopened when the study resumes)."""
    if not tracker.enabled:
        return
    with contextlib.suppress(Exception):  # the interrupt is what the user sees, not a storage hiccup
        storage = _open(plan)
        for cell in plan.cells:
            tune = _tune_study(plan, storage, cell)
            parent = tune.user_attrs.get("discrimbench.mlflow_parent")
            if parent and cell_state(plan, storage, cell) != "done":
                tracker.finish(parent, "KILLED", {"discrimbench.status": "interrupted"})
                tune.set_user_attr("discrimbench.parent_interrupted", True)


def _run_study(
    plan: StudyPlan, tracker: Tracker, started: float, *, report: bool, progress: bool
) -> dict[str, Any]:
    with _helpers(plan, tracker) as release_helpers:
        setup_storage(plan, tracker)
        release_helpers()
        storage = _open(plan)
        _work_showing_progress(plan, storage, tracker, progress)
    rows = collect_rows(plan, storage)
    results = write_results(plan, rows)
    write_study_json(plan, storage, started)
    summary: dict[str, Any] = {"results": str(results), "rows": len(rows), "report": None}
    summary["unhealthy"] = unhealthy_cells(plan, rows)
    if report:
        tracker.close()  # the report reads the curves from MLflow: every queued write first
        summary["report"] = _make_report(plan.out, progress)
    if isinstance(tracker, NullTracker):
        summary["tracking"] = "off"
    return summary


def unhealthy_cells(plan: StudyPlan, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Cell id → its budget-health failures, for every cell that fails a check."""
    out: dict[str, list[str]] = {}
    for cell in plan.cells:
        mine = [r for r in rows if r["run_id"].startswith(f"{cell.cell_id}/repeat/")]
        healthy, failures = cell_health(mine)
        if not healthy:
            out[cell.cell_id] = failures
    return out


def _work_showing_progress(plan: StudyPlan, storage: Any, tracker: Tracker, progress: bool) -> None:
    """This process's share of the work, with the overall progress bar and a line per finished cell."""
    from tqdm import tqdm

    total = sum(c.budget + len(plan.study.config.seeds) for c in plan.cells)
    bar = tqdm(
        total=total,
        desc=plan.study.name,
        unit="run",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    bar.update(count_progress(plan, storage))

    def on_progress() -> None:
        if plan.workers == 1:
            bar.update(1)
        else:
            bar.n = count_progress(plan, storage)
            bar.refresh()

    def on_cell(cell: Cell) -> None:  # a result, not an error: stdout (tox shows stderr in red)
        bar.write(cell_line(plan, storage, cell), file=sys.stdout)

    work(plan, on_progress, on_cell, tracker)
    bar.n = count_progress(plan, storage)
    bar.close()


@contextlib.contextmanager
def _helpers(plan: StudyPlan, tracker: Tracker) -> Iterator[Callable[[], None]]:
    """``--workers N``: start the N − 1 helper processes now; yields the call that lets them work.

    This process is worker 0. The helpers start before the storage is set up, which waits for the MLflow
    writer to open its store (seconds), so that their own start (imports) costs no wall time; they begin
    claiming work only once released. This process's :func:`work` returns only once every cell is done,
    those the helpers finished included, and takes over the trials of a helper that died (their owner is
    gone), so a failed helper (it said why on stderr) costs time, not results. On an exception here the
    helpers are terminated: their RUNNING trials are retried by the next run, as after a kill.
    """
    if plan.workers == 1:
        yield lambda: None
        return
    ctx = multiprocessing.get_context("spawn")
    release = ctx.Event()
    helpers = [
        ctx.Process(
            target=_guarded_worker_main,
            args=(plan, tracker.client(i), os.getpid(), release),
            daemon=False,
        )
        for i in range(plan.workers - 1)
    ]
    for p in helpers:
        p.start()
    try:
        yield release.set
    except BaseException:
        for p in helpers:
            p.terminate()
        raise
    finally:
        for p in helpers:
            p.join()


def cell_line(plan: StudyPlan, storage: Any, cell: Cell) -> str:
    """One console line for a finished cell (labelled when tuned on the test set)."""
    rows = [r for r in collect_rows_for(plan, storage, cell) if r["status"] == "ok"]
    vals = [float(r["test_best_val"]) for r in rows if r["test_best_val"] is not None]
    mean = float(np.mean(vals)) if vals else math.nan
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    params, _ = best_params(_tune_study(plan, storage, cell), cell)
    label = " [TUNED ON TEST: test-oracle]" if cell.selection == "test-oracle" else f" [{cell.selection}]"
    shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in params.items() if k in cell.space}
    return f"done {cell.cell_id}: test {mean:.2f} ± {std:.2f} over {len(vals)} seeds, params {shown}{label}"


def collect_rows_for(plan: StudyPlan, storage: Any, cell: Cell) -> list[dict[str, Any]]:
    sub = StudyPlan(plan.study, plan.storage_url, plan.tracking_uri, plan.workers, plan.local_storage)
    sub.study = ResolvedStudy(plan.study.config, [cell], plan.study.out, plan.study.source, plan.study.raw)
    return collect_rows(sub, storage)


def _make_report(folder: Path, progress: bool) -> str | None:
    try:
        from benchmark.report import make_report
    except ImportError:
        print("note: benchmark.report is not available; report skipped", file=sys.stderr)
        return None
    out = make_report(folder, formats=("md", "html", "tex"), progress=progress)
    return str(out) if out is not None else None
