"""Read the optional stores of a study for the report: MLflow (curves, per-sample weights) and Optuna
(tuning histories, importances).

Each loader returns its data plus a note; when a store is absent or unreadable the note says why and the
report skips those figures instead of failing. A missing SQLite file is never created (opening an
SQLite URL with MLflow or Optuna would create an empty store inside the study folder).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.naming import is_journal_url, journal_path, sqlite_path

__all__ = [
    "CURVE_KEYS",
    "MIN_IMPORTANCE_TRIALS",
    "Histories",
    "TuningCell",
    "importance_refusal",
    "load_histories",
    "load_tuning",
]

# Completed trials of one cell below which importances are not drawn, for the tuning's and the sweeps'
# alike: fewer make fANOVA's random forest (and PED-ANOVA's quantile split) fit noise (issue 17).
MIN_IMPORTANCE_TRIALS = 20
CURVE_KEYS = (
    "memo/noisy_acc", "memo/true_acc", "memo/clean_acc", "diag/auroc_noisy_clean", "diag/auroc_noisy_hard",
    "diag/weight_clean_mean", "diag/weight_corrupted_mean",
)  # fmt: skip


def _file_missing(url: str) -> Path | None:
    """The file of a SQLite or journal URL when it does not exist, else None (a server, or a file that
    is there)."""
    path = journal_path(url) if is_journal_url(url) else sqlite_path(url)
    return path if path is not None and not path.is_file() else None


@dataclass
class Histories:
    """Per-epoch curves of the repeat runs and where their per-sample weights are.

    Attributes:
        curves: long table (dataset, noise, rate, method, seed, run_id, epoch, CURVE_KEYS...).
        runs: one row per repeat run (dataset, noise, rate, method, seed, run_id).
        note: why curves are missing, if they are.
    """

    curves: pd.DataFrame
    runs: pd.DataFrame
    uri: str = ""
    note: str = ""

    def sample_weights(self, run_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """(weights, corrupted, hardness or None) from a run's ``sample_weights.npz``, None if absent."""
        from benchmark._mlflow_writer import open_client

        client = open_client(self.uri)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = client.download_artifacts(run_id, "sample_weights.npz", tmp)
            except Exception:  # an MLflow store raises several types for a missing artifact
                return None
            with np.load(path) as npz:
                weights, corrupted = np.asarray(npz["weights"], float), np.asarray(npz["corrupted"], bool)
                hardness = np.asarray(npz["hardness"], float) if "hardness" in npz.files else np.empty(0)
        if weights.size == 0:
            return None
        return weights, corrupted, (hardness if hardness.size == weights.size else None)


def load_histories(uri: str, study_name: str) -> Histories:
    """Per-epoch metrics of every repeat run of ``study_name`` (MLflow experiment of that name)."""
    empty = pd.DataFrame()
    missing = _file_missing(uri)
    if missing is not None:
        return Histories(empty, empty, uri, f"no MLflow store at {missing}: curve figures skipped")
    try:
        from benchmark._mlflow_writer import open_client

        client = open_client(uri)
        experiment = client.get_experiment_by_name(study_name)
        if experiment is None:
            return Histories(empty, empty, uri, f"no MLflow experiment named {study_name!r}: curves skipped")
        found = client.search_runs(
            [experiment.experiment_id], filter_string="tags.`discrimbench.role` = 'repeat'", max_results=50000
        )
        rows: list[dict[str, Any]] = []
        runs: list[dict[str, Any]] = []
        for run in found:
            tags = run.data.tags
            info = {
                "dataset": tags.get("discrimbench.dataset", ""),
                "noise": tags.get("discrimbench.noise", ""),
                "rate": _float(tags.get("discrimbench.rate")),
                "method": tags.get("discrimbench.method", ""),
                "seed": int(_float(tags.get("discrimbench.seed"), -1)),
                "run_id": run.info.run_id,
            }
            runs.append(info)
            by_epoch: dict[int, dict[str, Any]] = {}
            for key in CURVE_KEYS:
                if key not in run.data.metrics:
                    continue
                for m in client.get_metric_history(run.info.run_id, key):
                    by_epoch.setdefault(int(m.step), {**info, "epoch": int(m.step)})[key] = float(m.value)
            rows.extend(by_epoch.values())
    except Exception as exc:  # report generation must survive an unreadable store
        return Histories(empty, empty, uri, f"MLflow store {uri} unreadable ({type(exc).__name__}: {exc})")
    note = "" if rows else f"no per-epoch curves logged for repeat runs in {uri}"
    return Histories(pd.DataFrame(rows), pd.DataFrame(runs), uri, note)


@dataclass
class TuningCell:
    """The tuning history of one cell: complete-trial values and hyperparameter importances."""

    cell: str
    method: str
    values: list[float]
    higher_is_better: bool
    importances: dict[str, float] = field(default_factory=dict)
    note: str = ""


def load_tuning(storage_url: str, study_name: str) -> tuple[list[TuningCell], str]:
    """Every ``"{study}/{cell_id}/tune"`` Optuna study in the storage, with importances where possible."""
    missing = _file_missing(storage_url)
    if missing is not None:
        return [], f"no Optuna storage at {missing}: tuning figures skipped"
    try:
        import optuna
        from optuna.importance import FanovaImportanceEvaluator, get_param_importances

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = _open_storage(storage_url)
        names = [
            n
            for n in optuna.get_all_study_names(storage)
            if n.startswith(f"{study_name}/") and n.endswith("/tune")
        ]
        cells = []
        for name in sorted(names):
            study = optuna.load_study(study_name=name, storage=storage)
            cell = name.removeprefix(f"{study_name}/").removesuffix("/tune")
            done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            hib = study.direction == optuna.study.StudyDirection.MAXIMIZE
            entry = TuningCell(
                cell, cell.rsplit("/", 1)[-1], [float(t.value) for t in done if t.value is not None], hib
            )
            varying = {k for t in done for k in t.params if len({repr(u.params.get(k)) for u in done}) > 1}
            entry.note = importance_refusal(len(done), "tuning trial(s)", "fANOVA")
            if not entry.note and not varying:
                entry.note = "importances not drawn: no hyperparameter varies across trials"
            if not entry.note:
                try:
                    entry.importances = get_param_importances(
                        study, evaluator=FanovaImportanceEvaluator(seed=0), params=sorted(varying)
                    )
                except (ValueError, RuntimeError) as exc:  # e.g. conditional params absent in some trials
                    entry.note = f"importances not drawn: {exc}"
            cells.append(entry)
    except Exception as exc:  # report generation must survive an unreadable store
        return [], f"Optuna storage {storage_url} unreadable ({type(exc).__name__}: {exc})"
    return cells, "" if cells else f"no tuning studies named {study_name}/…/tune in {storage_url}"


def importance_refusal(
    completed: int, what: str, evaluators: str, min_trials: int = MIN_IMPORTANCE_TRIALS
) -> str:
    """Why a cell's importances are not drawn ('' when it has ``min_trials`` completed trials or more):
    the one rule of the tuning and the sweep importances, the count stated."""
    if completed >= min_trials:
        return ""
    return f"importances not drawn: {completed} completed {what} (≥ {min_trials} required for {evaluators})"


def _open_storage(url: str) -> Any:
    """Open a study's Optuna storage for reading: a journal file (``--workers``) or a database (SQLite,
    PostgreSQL, MySQL) through Optuna's public storage classes."""
    from optuna.storages import RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if is_journal_url(url):
        return JournalStorage(JournalFileBackend(str(journal_path(url))))
    return RDBStorage(url)


def _float(value: Any, default: float = math.nan) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
