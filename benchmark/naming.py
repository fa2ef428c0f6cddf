"""The few names that several stages must spell the same way: the study folder's store files, how a store
URL names its file (SQLite, Optuna journal), the selection rules' per-epoch series and each task's metric.

Kept here, free of imports from the rest of the package, so the planner, the runner, the trainer, the
preflight and the report read one definition instead of each keeping its own copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = [
    "METRICS",
    "MLFLOW_ARTIFACTS",
    "MLFLOW_DB",
    "OPTUNA_JOURNAL",
    "OPTUNA_SQLITE",
    "SELECTIONS",
    "SELECTION_SERIES",
    "default_mlflow_uri",
    "default_optuna_url",
    "higher_is_better",
    "is_journal_url",
    "is_local_storage_url",
    "is_sqlite_url",
    "journal_path",
    "selection_series",
    "sqlite_path",
    "sqlite_url",
    "task_direction",
    "task_metric",
]

OPTUNA_JOURNAL = "optuna.journal"  # the default Optuna store of a study folder with several local workers
OPTUNA_SQLITE = "optuna.db"  # the default Optuna store of a study folder run by one process
MLFLOW_DB = "mlflow.db"  # the default MLflow store of a study folder
MLFLOW_ARTIFACTS = "mlartifacts"  # the default MLflow artifact folder of a study folder
METRICS = ("acc", "mae")  # every task's headline metric (:func:`task_metric`)

# selection rule -> the per-epoch series whose best epoch it picks ({m}: the task's metric)
SELECTION_SERIES = {"noisy-val": "val/{m}", "clean-val": "val/{m}_clean", "test-oracle": "test/{m}"}
SELECTIONS = tuple(SELECTION_SERIES)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file, absolute so that any working folder reads the same file."""
    return f"sqlite:///{path.resolve()}"


def is_sqlite_url(url: str) -> bool:
    """``sqlite:///…`` (with or without a driver, ``sqlite+pysqlite://``): one process only."""
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (:func:`is_sqlite_url`; the inverse of :func:`sqlite_url`), None for an
    in-memory database, a URL naming no file or one that is not SQLite."""
    if not is_sqlite_url(url) or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def default_mlflow_uri(folder: Path) -> str:
    """The MLflow store of a study folder when none is named: :data:`MLFLOW_DB` in it."""
    return sqlite_url(folder / MLFLOW_DB)


def default_optuna_url(folder: Path, *, several_workers: bool = False) -> str:
    """The Optuna store of a study folder when none is named: its journal when one exists or several
    local workers share the study, else its SQLite file."""
    journal = folder / OPTUNA_JOURNAL
    if journal.exists() or several_workers:
        return str(journal.resolve())
    return sqlite_url(folder / OPTUNA_SQLITE)


def is_journal_url(url: str) -> bool:
    """``journal:///PATH`` or a path ending in ``.journal``: an Optuna journal file."""
    return url.startswith("journal://") or url.endswith(".journal")


def journal_path(url: str) -> Path:
    """The file of a journal URL (:func:`is_journal_url`)."""
    return Path(url.removeprefix("journal://"))


def is_local_storage_url(url: str) -> bool:
    """SQLite or a journal file: workers on this host only, dead ones recognised by their process id."""
    return is_sqlite_url(url) or is_journal_url(url)


def task_metric(task: str) -> Literal["acc", "mae"]:
    """The headline metric of a task: accuracy for classification, mean absolute error otherwise."""
    return "acc" if task == "classification" else "mae"


def higher_is_better(metric: str) -> bool:
    """Whether a metric of :data:`METRICS` is better higher (accuracy) or lower (mean absolute error)."""
    return metric == "acc"


def task_direction(task: str) -> Literal["maximize", "minimize"]:
    """Whether a task's metric (:func:`task_metric`) is better higher or lower."""
    return "maximize" if task == "classification" else "minimize"


def selection_series(selection: str, task: str) -> str:
    """The per-epoch series that ``selection`` reads for ``task`` (e.g. ``val/acc``)."""
    return SELECTION_SERIES[selection].format(m=task_metric(task))
