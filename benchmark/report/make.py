"""The report of a finished study: tables, figures, markdown, a self-contained HTML page and LaTeX.

``make_report(study_dir)`` reads only the study outputs of docs/contracts.md. results.csv is required;
the MLflow and Optuna stores are optional, and each figure they feed is skipped with a note when absent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from benchmark.errors import StudyConfigError
from benchmark.output_files import atomic_write
from benchmark.report.document import Report
from benchmark.report.io import (
    load_results,
    load_study_json,
    mlflow_uri,
    optuna_storage_url,
    resolve_study_dir,
)
from benchmark.report.pages import html_page, markdown_page
from benchmark.report.reference import load_references
from benchmark.report.render import latex_document_tables
from benchmark.report.sections import (
    add_curve_figures,
    add_health,
    add_result_figures,
    add_sensitivity,
    add_tables,
    add_tuning_figures,
)
from benchmark.report.sources import load_histories

__all__ = ["FORMATS", "make_report"]

FORMATS = ("md", "html", "tex")


def make_report(
    study_dir: Path,
    formats: Sequence[str] = FORMATS,
    references: list[str] | None = None,
    out: Path | None = None,
    progress: bool = False,
) -> Path:
    """Write the report of a study and return its folder (default ``<study_dir>/report``).

    Args:
        study_dir: the study's output folder (or its STUDY.yaml, resolved through ``benchmark.config``).
        formats: any of "md", "html", "tex".
        references: reference file names in benchmark/report/references (None: all).
        out: the report folder.
        progress: show a progress bar on stderr (the report of a large study takes tens of seconds).

    Raises:
        StudyConfigError: an unknown format or reference name.
        DataMissingError / DataCorruptError: results.csv missing or malformed.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise StudyConfigError(f"--format {bad[0]!r} is not a report format; allowed: {', '.join(FORMATS)}")
    study_dir = resolve_study_dir(Path(study_dir))
    df = load_results(study_dir)
    study = load_study_json(study_dir)
    refs = load_references(references)
    out = Path(out) if out is not None else study_dir / "report"
    fig_dir = out / "figures"
    out.mkdir(parents=True, exist_ok=True)
    name = _study_name(df, study, study_dir)
    report = Report(f"DiscrimBench report: {name}")
    bar = _progress_bar(progress)
    if df.empty:
        report.notes.append("results.csv holds no successful runs: nothing to summarise.")
    else:
        _step(bar, "tables and statistics")
        add_tables(report, df, study, refs, out)
        _step(bar, "figures from results.csv")
        add_result_figures(report, df, fig_dir)
        add_health(report, df, study, out)
        _step(bar, "curves from MLflow")
        add_curve_figures(report, load_histories(mlflow_uri(study_dir, study), name), df, study, fig_dir)
        _step(bar, "tuning curves from Optuna")
        add_tuning_figures(report, df, optuna_storage_url(study_dir, study), name, fig_dir)
    _step(bar, "sensitivity sweeps")
    add_sensitivity(report, study_dir, fig_dir)
    _step(bar, "writing " + ", ".join(formats))
    texts: dict[str, tuple[str, Callable[[], str]]] = {
        "md": ("report.md", lambda: markdown_page(report, out)),
        "tex": ("tables.tex", lambda: latex_document_tables(report.tables)),
        "html": ("report.html", lambda: html_page(report, study)),
    }
    for fmt in formats:  # atomically: a reader (or a crash) never meets half a report
        filename, render = texts[fmt]
        text = render()
        atomic_write(out / filename, partial(_write_text, text=text))
    bar.close()
    return out


def _write_text(tmp: Path, text: str) -> None:
    tmp.write_text(text, encoding="utf-8")


_STEPS = 6


def _progress_bar(show: bool) -> tqdm[Any]:
    return tqdm(total=_STEPS, desc="report", unit="step", file=sys.stderr, disable=not show, leave=False)


def _step(bar: tqdm[Any], what: str) -> None:
    """Count and name the step starting now ("3/5 curves from MLflow")."""
    bar.set_postfix_str(what, refresh=False)
    bar.update(1)


def _study_name(df: pd.DataFrame, study: dict[str, Any], study_dir: Path) -> str:
    if "study" in df.columns and df["study"].notna().any():
        return str(df["study"].dropna().iloc[0])
    return str(study.get("name") or (study.get("config") or {}).get("name") or study_dir.name)
