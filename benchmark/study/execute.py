"""One tracked run of a cell: its spec, its data, its MLflow run and artifacts, pruning for trials."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from benchmark import interrupts
from benchmark.config import Cell
from benchmark.naming import selection_series
from benchmark.runs import RunResult, RunSpec
from benchmark.study.hardness import HardnessStore
from benchmark.study.ledger import resolved
from benchmark.study.outputs import masked
from benchmark.study.parents import cell_tags
from benchmark.study.plan import StudyPlan
from benchmark.tracking import OWNER_TAG, UNIT_TAG, Tracker
from benchmark.tuning import ATTR, count_trials, may_prune, owner_id, prune_warmup

__all__ = ["RunExecutor"]


@dataclass
class RunExecutor:
    """Trains the runs of one worker; ``env`` (:func:`benchmark.study.outputs.environment`) goes with each."""

    plan: StudyPlan
    tracker: Tracker
    env: dict[str, Any] = field(default_factory=dict)

    @property
    def hardness(self) -> HardnessStore:
        return HardnessStore(self.plan.out)

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
        hardness = None if data.train.hardness is not None else self.hardness.load(cell.dataset, seed)
        run_id = self._start(cell, role, seed, params, trial, parent)
        config = {"spec": spec.to_dict(), "cell": cell.cell_id, "selection": cell.selection}
        self.tracker.log_json(run_id, "config.json", {**config, "study": masked(self.plan.study.raw)})
        self.tracker.log_json(run_id, "noise_manifest.json", {
            "noise": cell.noise, "rate": cell.rate, "realised_rate": data.realised_rate,
            "transition": data.transition, "noisy_labels_sha256": data.noisy_labels_sha256,
        })  # fmt: skip
        self.tracker.log_json(run_id, "environment.json", self.env)
        series = selection_series(cell.selection, cell.task)
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
            interrupts.raise_pending()  # a Ctrl-C held during Optuna's bookkeeping stops the run here
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
        status_tags.update({f"discrimbench.{k}": str(v) for k, v in resolved(result).items()})
        self.tracker.finish(run_id, "FINISHED" if result.status == "ok" else "FAILED", status_tags)
        return result, self.tracker.run_id(run_id)

    def _start(
        self,
        cell: Cell,
        role: str,
        seed: int,
        params: dict[str, Any],
        trial: optuna.Trial | None,
        parent: str | None,
    ) -> str | None:
        """Start the run's MLflow run, tagged with its cell, role, seed, owner and unit of work."""
        tags = {**cell_tags(cell), "discrimbench.role": role, "discrimbench.seed": str(seed)}
        tags[OWNER_TAG] = owner_id()
        tags[UNIT_TAG] = f"{cell.cell_id}/{role}/seed{seed}"
        if trial is not None:
            tags["discrimbench.trial"] = str(trial.number)
            tags[UNIT_TAG] = f"{cell.cell_id}/{role}/slot{trial.user_attrs.get(ATTR['slot'], trial.number)}"
        name = f"{cell.cell_id}/{role}/" + (f"{trial.number}" if trial is not None else f"seed{seed}")
        return self.tracker.start(parent, name, tags, {**params, "seed": seed})

    def _save_hardness(self, dataset: str, seed: int, result: RunResult, run_id: str | None) -> None:
        values = result.hardness
        if not self.hardness.save(dataset, seed, values):
            return
        if run_id is not None and self.tracker.enabled:
            self.tracker.log_arrays(
                run_id, "hardness.npz", {"hardness": np.asarray(values, dtype=np.float32)}
            )
