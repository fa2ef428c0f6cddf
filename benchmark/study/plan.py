"""Where a study's stores live and whether the run can start: the plan every worker receives."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.config import Cell, ResolvedStudy
from benchmark.errors import StudyConfigError
from benchmark.naming import (
    OPTUNA_JOURNAL,
    OPTUNA_SQLITE,
    default_optuna_url,
    is_local_storage_url,
    is_sqlite_url,
)
from benchmark.preflight import preflight

__all__ = ["StudyPlan", "plan_study", "study_name"]


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
        if workers > 1 and (out / OPTUNA_SQLITE).exists() and not (out / OPTUNA_JOURNAL).exists():
            raise StudyConfigError(
                f"{out} already holds a SQLite Optuna store ({OPTUNA_SQLITE}), which is for one process "
                "only; rerun without --workers or pass --storage"
            )
        url = default_optuna_url(out, several_workers=workers > 1)
    elif is_sqlite_url(url) and workers > 1:
        raise StudyConfigError(
            f"--storage {url} is SQLite, which is for one process; use a journal or PostgreSQL"
        )
    tracking = tracking_uri if tracking_uri is not None else study.config.storage.mlflow
    local = is_local_storage_url(url)
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    plan = StudyPlan(study, url, tracking, workers, local, threads)
    preflight(plan)  # the dry run and the real run both stop here on anything the run would refuse
    return plan


def study_name(cell: Cell, kind: str) -> str:
    """The Optuna study of one cell: ``kind`` is ``tune``, ``repeats`` or (a sweep cell) ``sweep``."""
    return f"{cell.study}/{cell.cell_id}/{kind}"
