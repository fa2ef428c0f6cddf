"""What a study leaves in its folder: ``results.csv``, ``study.json``, the console line of a finished cell
and the report; every file written atomically (:func:`benchmark.output_files.atomic_write`)."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import TrialState

from benchmark.config import Cell
from benchmark.errors import output_error
from benchmark.health import cell_health
from benchmark.output_files import atomic_write, check_output_folder
from benchmark.runs import RESULT_COLUMNS
from benchmark.study.ledger import best_params, cell_rows, repeat_study, tune_study
from benchmark.study.plan import StudyPlan
from benchmark.tracking import mask_url
from benchmark.tuning import ATTR, budget_trials

__all__ = [
    "cell_line",
    "check_writable",
    "environment",
    "make_report",
    "masked",
    "unhealthy_cells",
    "write_results",
    "write_study_json",
]

_ORACLE_NOTE = "test-oracle: hyperparameters tuned on the TEST set (for parity with papers only)"


def masked(value: Any) -> Any:
    """``value`` with the password of every URL in it replaced by ``***`` (what is logged or written)."""
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def check_writable(folder: Path) -> None:
    """Create ``folder`` once :func:`benchmark.output_files.check_output_folder` proved it writable,
    before any work starts.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    check_output_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, f"the output folder {folder}") from None


def write_results(plan: StudyPlan, rows: list[dict[str, Any]]) -> Path:
    """Write ``results.csv`` atomically (temp file + rename)."""
    import pandas as pd

    path = plan.out / "results.csv"
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    return path


def environment() -> dict[str, Any]:
    """Package versions, git commit, python, platform, device: recorded with every run.

    ``cpu_capability`` is the vector instruction set torch chose its own CPU kernels for (DEFAULT, AVX2,
    AVX512): kernels for different sets round differently, so CPU runs repeat bit for bit only on the same
    capability (``ATEN_CPU_CAPABILITY`` lowers it; the BLAS and oneDNN under torch choose theirs apart).
    """
    import importlib.metadata as md

    versions: dict[str, str | None] = {}
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
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }  # fmt: skip


def write_study_json(plan: StudyPlan, storage: Any, started: float) -> Path:
    """``study.json``: resolved config, cells with their budgets and best params, versions, timings."""
    cells = []
    for cell in plan.cells:
        tune = tune_study(plan, storage, cell)
        trials = budget_trials(tune.get_trials(deepcopy=False))
        reps = [
            t
            for t in repeat_study(storage, cell).get_trials(deepcopy=False)
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
    text = json.dumps(payload, indent=2, default=str)
    atomic_write(path, lambda tmp: tmp.write_text(text))
    return path


def unhealthy_cells(plan: StudyPlan, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Cell id → its budget-health failures, for every cell that fails a check."""
    out: dict[str, list[str]] = {}
    for cell in plan.cells:
        mine = [r for r in rows if r["run_id"].startswith(f"{cell.cell_id}/repeat/")]
        healthy, failures = cell_health(mine)
        if not healthy:
            out[cell.cell_id] = failures
    return out


def cell_line(plan: StudyPlan, storage: Any, cell: Cell) -> str:
    """One console line for a finished cell (labelled when tuned on the test set)."""
    rows = [r for r in cell_rows(plan, storage, cell) if r["status"] == "ok"]
    vals = [float(r["test_best_val"]) for r in rows if r["test_best_val"] is not None]
    mean = float(np.mean(vals)) if vals else math.nan
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    params, _ = best_params(tune_study(plan, storage, cell), cell)
    label = " [TUNED ON TEST: test-oracle]" if cell.selection == "test-oracle" else f" [{cell.selection}]"
    shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in params.items() if k in cell.space}
    return f"done {cell.cell_id}: test {mean:.2f} ± {std:.2f} over {len(vals)} seeds, params {shown}{label}"


def make_report(folder: Path, progress: bool) -> str | None:
    """The study's report (md, html, tex) once its results are written; None when there is none."""
    try:
        from benchmark.report import make_report as report
    except ImportError:
        print("note: benchmark.report is not available; report skipped", file=sys.stderr)
        return None
    out = report(folder, formats=("md", "html", "tex"), progress=progress)
    return str(out) if out is not None else None
