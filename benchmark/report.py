"""The report of a finished study: tables, figures, markdown, a self-contained HTML page and LaTeX.

``make_report(study_dir)`` reads only the study outputs of docs/contracts.md. results.csv is required;
the MLflow and Optuna stores are optional, and each figure they feed is skipped with a note when absent.
"""

from __future__ import annotations

import base64
import html
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from benchmark import figures
from benchmark.errors import StudyConfigError
from benchmark.output_files import atomic_write
from benchmark.report_health import budget_health
from benchmark.report_io import (
    load_results,
    load_study_json,
    mlflow_uri,
    optuna_storage_url,
    resolve_study_dir,
)
from benchmark.report_reference import compare_references, load_references, reference_tables, reproduced_model
from benchmark.report_render import Table, latex_document_tables, to_html, to_markdown
from benchmark.report_sources import Histories, load_histories, load_tuning
from benchmark.report_tables import (
    cell_summary,
    headline_table,
    paired_comparisons,
    paired_table,
    protocol_text,
    rank_table,
    summary_table,
)
from benchmark.stats import RankAnalysis

__all__ = ["FORMATS", "make_report"]

FORMATS = ("md", "html", "tex")
WEIGHTED_METHODS = ("discrimloss", "superloss")


@dataclass
class _Figure:
    name: str
    caption: str
    png: Path


@dataclass
class _Section:
    """A titled part of the report: its tables and figures, in reading order."""

    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[_Figure] = field(default_factory=list)
    intro: str = ""
    figures_first: bool = False


# The order a reader of a noisy-label paper expects: the headline first, then whether the budget was
# enough to trust it, then how methods rank, then published numbers, then every detail.
SECTIONS = ("headline", "health", "ranks", "reference", "details", "curves", "tuning")
_TITLES = {
    "headline": "Headline",
    "health": "Budget health",
    "ranks": "Ranks across cells",
    "reference": "Reproduced versus reported",
    "details": "Details: every cell, paired tests",
    "curves": "Details: training curves per cell",
    "tuning": "Details: tuning",
}


@dataclass
class _Report:
    title: str
    sections: dict[str, _Section] = field(
        default_factory=lambda: {k: _Section(_TITLES[k], figures_first=k == "headline") for k in SECTIONS}
    )
    notes: list[str] = field(default_factory=list)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    analysis: RankAnalysis | None = None
    banner: str = ""  # the budget-health warning (benchmark.report_health), shown above everything

    @property
    def tables(self) -> list[Table]:
        """Every table in reading order."""
        return [t for s in self.sections.values() for t in s.tables]

    @property
    def figures(self) -> list[_Figure]:
        """Every figure in reading order."""
        return [f for s in self.sections.values() for f in s.figures]


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
        references: reference file names in results/reference (None: all).
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
    report = _Report(f"DiscrimBench report: {name}")
    bar = _progress_bar(progress)
    if df.empty:
        report.notes.append("results.csv holds no successful runs: nothing to summarise.")
    else:
        _step(bar, "tables and statistics")
        _add_tables(report, df, study, refs, out)
        _step(bar, "figures from results.csv")
        _add_result_figures(report, df, fig_dir)
        _add_health(report, df, study, out)
        _step(bar, "curves from MLflow")
        _add_curve_figures(report, load_histories(mlflow_uri(study_dir, study), name), fig_dir)
        _step(bar, "tuning curves from Optuna")
        _add_tuning_figures(report, optuna_storage_url(study_dir, study), name, fig_dir)
    _step(bar, "writing " + ", ".join(formats))
    texts = {
        "md": ("report.md", lambda: _markdown(report, out)),
        "tex": ("tables.tex", lambda: latex_document_tables(report.tables)),
        "html": ("report.html", lambda: _html(report, study)),
    }
    for fmt in formats:  # atomically: a reader (or a crash) never meets half a report
        filename, render = texts[fmt]
        text = render()
        atomic_write(out / filename, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
    bar.close()
    return out


def _add_health(report: _Report, df: pd.DataFrame, study: dict, out: Path) -> None:
    """The budget-health section (issue 13): its tables go in ``report.sections["health"]``, right after
    the headline. Empty sections are left out of every format."""
    report.banner, health = budget_health(df)
    if health is not None:
        report.sections["health"].tables.append(health)
    else:
        report.notes.append("Budget health: results.csv has no health columns (an older study).")


_STEPS = 5


def _progress_bar(show: bool) -> tqdm:
    return tqdm(total=_STEPS, desc="report", unit="step", file=sys.stderr, disable=not show, leave=False)


def _step(bar: tqdm, what: str) -> None:
    """Count and name the step starting now ("3/5 curves from MLflow")."""
    bar.set_postfix_str(what, refresh=False)
    bar.update(1)


def _study_name(df: pd.DataFrame, study: dict, study_dir: Path) -> str:
    if "study" in df.columns and df["study"].notna().any():
        return str(df["study"].dropna().iloc[0])
    return str(study.get("name") or (study.get("config") or {}).get("name") or study_dir.name)


def _add_tables(report: _Report, df: pd.DataFrame, study: dict, refs: pd.DataFrame, out: Path) -> None:
    summary = cell_summary(df)
    summary.to_csv(out / "summary.csv", index=False)
    report.sections["headline"].tables.append(headline_table(summary, df))
    report.sections["details"].tables.append(summary_table(summary, df))
    pairs = paired_comparisons(df)
    if pairs.empty:
        report.notes.append(
            "Paired comparisons skipped: no cell has CE or DiscrimLoss next to another method."
        )
    else:
        pairs.to_csv(out / "paired.csv", index=False)
        report.sections["details"].tables.append(paired_table(pairs, df))
    analysis, ranks = rank_table(df)
    report.sections["ranks"].tables.append(ranks)
    report.analysis, report.summary = analysis, summary
    datasets = sorted(df["dataset"].unique())
    models = {d: reproduced_model(d, study, df) for d in datasets}
    epochs = {
        d: float(df.loc[df["dataset"] == d, "epochs"].max()) if "epochs" in df else float("nan")
        for d in datasets
    }
    joined, rejected, skipped = compare_references(summary, refs, models, epochs)
    report.sections["reference"].tables.extend(reference_tables(joined, rejected, skipped, protocol_text(df)))


def _keep(report: _Report, section: str, fig: Figure, fig_dir: Path, name: str, caption: str) -> None:
    png, _pdf = figures.save(fig, fig_dir, name)
    report.sections[section].figures.append(_Figure(name, caption, png))


def _add_result_figures(report: _Report, df: pd.DataFrame, fig_dir: Path) -> None:
    summary = report.summary
    for section, col, label in (
        ("headline", "test_best_val", "best-val epoch"),
        ("details", "test_last", "last epoch"),
    ):
        fig = figures.metric_vs_rate(summary, col, label)
        _keep(
            report,
            section,
            fig,
            fig_dir,
            f"metric_vs_rate_{col}",
            f"Test metric ({label}) against noise rate, 95% CI bands.",
        )
    analysis = report.analysis
    if analysis is not None and len(analysis.ranks) >= 2 and analysis.scores.shape[0] >= 1:
        fig = figures.cd_diagram(analysis.ranks, analysis.pairwise_p)
        _keep(
            report,
            "ranks",
            fig,
            fig_dir,
            "cd_diagram",
            "Critical-difference diagram (Wilcoxon-Holm over cells).",
        )
    else:
        report.notes.append("Critical-difference diagram skipped: needs ≥ 2 methods on ≥ 1 complete cell.")


def _add_curve_figures(report: _Report, hist: Histories, fig_dir: Path) -> None:
    if hist.note:
        report.notes.append(f"Curve figures: {hist.note}.")
    if hist.curves.empty:
        return
    for (dataset, noise, rate), sub in hist.curves.groupby(["dataset", "noise", "rate"], sort=True):
        tag = f"{dataset}_{noise}_{rate:g}"
        where = f"{dataset} / {noise} / rate {rate:g}"
        if _has(sub, figures.MEMO_SERIES):
            fig = figures.memorisation_curves(sub, title=f"Memorisation, {where}")
            caption = (
                f"Memorisation, {where}: training accuracy of the corrupted samples on their true and on "
                "their noisy labels, and of the clean samples (mean over seeds, band: range)."
            )
            _keep(report, "curves", fig, fig_dir, f"memorisation_{tag}", caption)
        if _has(sub, {"diag/weight_corrupted_mean": None}):  # rate 0 has no corrupted sample to compare
            fig = figures.weight_evolution(sub, title=f"Per-sample weights over epochs, {where}")
            caption = f"Mean per-sample weight of clean and corrupted samples over epochs, {where}."
            _keep(report, "curves", fig, fig_dir, f"weight_evolution_{tag}", caption)
        diag = [k for k in ("diag/auroc_noisy_clean", "diag/auroc_noisy_hard") if k in sub]
        if diag and sub[diag].notna().any().any():
            fig = figures.auroc_curves(sub, title=f"Diagnostic AUROCs, {where}")
            _keep(report, "curves", fig, fig_dir, f"auroc_{tag}", f"Diagnostic AUROCs over epochs, {where}.")
    runs = hist.runs[hist.runs["method"].isin(WEIGHTED_METHODS)]
    for (dataset, noise), sub in runs.groupby(["dataset", "noise"], sort=True):
        rate = float(sub["rate"].max())  # the hardest rate shows the separation best
        chosen = sub[sub["rate"] == rate].sort_values("seed").groupby("method").head(1)
        samples = {}
        for _, run in chosen.iterrows():
            got = hist.sample_weights(str(run["run_id"]))
            if got is not None:
                samples[str(run["method"])] = got
        if samples:
            where = f"{dataset} / {noise} / rate {rate:g}, seed {int(chosen['seed'].min())}"
            fig = figures.weight_distributions(samples, title=f"Per-sample weights, {where}")
            _keep(
                report,
                "curves",
                fig,
                fig_dir,
                f"weights_{dataset}_{noise}_{rate:g}",
                f"Per-sample weights, {where}.",
            )
        else:
            report.notes.append(
                f"Weight distributions for {dataset}/{noise}: no sample_weights.npz artifacts."
            )


def _has(curves: pd.DataFrame, keys: Mapping[str, object]) -> bool:
    return any(k in curves and curves[k].notna().any() for k in keys)


def _add_tuning_figures(report: _Report, storage: str, name: str, fig_dir: Path) -> None:
    cells, note = load_tuning(storage, name)
    if note:
        report.notes.append(f"Tuning figures: {note}.")
    groups: dict[str, list] = {}
    for cell in cells:
        groups.setdefault(cell.cell.rsplit("/", 1)[0], []).append(cell)
    for group, members in sorted(groups.items()):
        tag = group.replace("/", "_")
        values = {c.method: c.values for c in members if c.values}
        if values:
            fig = figures.tuning_curves(
                values, higher_is_better=members[0].higher_is_better, title=f"Tuning, {group}"
            )
            _keep(
                report,
                "tuning",
                fig,
                fig_dir,
                f"tuning_{tag}",
                f"Expected best validation value against trials, {group}.",
            )
        imps = {c.method: c.importances for c in members if c.importances}
        report.notes.extend(f"{c.cell}: {c.note}." for c in members if c.note)
        if imps:
            fig = figures.param_importances(imps, title=f"Hyperparameter importances, {group}")
            _keep(
                report,
                "tuning",
                fig,
                fig_dir,
                f"importances_{tag}",
                f"Hyperparameter importances (fANOVA), {group}.",
            )


def _section_parts(section: _Section) -> list[object]:
    """Tables and figures of a section in reading order (the headline shows its figure first)."""
    if section.figures_first:
        return [*section.figures, *section.tables]
    return [*section.tables, *section.figures]


def _markdown(report: _Report, out: Path) -> str:
    parts = [f"# {report.title}", ""]
    if report.banner:
        head, *cells = report.banner.splitlines()
        parts += [f"> **{head}**", ">", *(f"> - {line.strip()}" for line in cells), ""]
    for section in report.sections.values():
        if not (section.tables or section.figures):
            continue
        parts.append(f"## {section.title}\n")
        if section.intro:
            parts.append(section.intro + "\n")
        for item in _section_parts(section):
            if isinstance(item, Table):
                parts.append(to_markdown(item))
            else:
                f = item
                assert isinstance(f, _Figure)
                parts.append(f"![{f.caption}]({f.png.relative_to(out).as_posix()})\n\n*{f.caption}*\n")
    if report.notes:
        parts.append("## Notes\n")
        parts += [f"- {n}" for n in report.notes]
    return "\n".join(parts) + "\n"


_CSS = """body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}table{border-collapse:collapse;
font-size:13px;margin:.5em 0}th,td{border-bottom:1px solid #ccc;padding:2px 8px;text-align:left}
.protocol{color:#444;font-size:13px}
.banner{background:#fdd;border:2px solid #c00;white-space:pre-wrap}
img{max-width:100%}pre{background:#f6f6f6;padding:.5em;overflow:auto}"""


def _html(report: _Report, study: dict) -> str:
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.banner:
        body.append(f'<pre class="banner" id="health-banner">{html.escape(report.banner)}</pre>')
    for key, section in report.sections.items():
        if not (section.tables or section.figures):
            continue
        body.append(f'<section id="{key}"><h2>{html.escape(section.title)}</h2>')
        if section.intro:
            body.append(f"<p>{html.escape(section.intro)}</p>")
        for item in _section_parts(section):
            if isinstance(item, Table):
                body.append(to_html(item))
            else:
                assert isinstance(item, _Figure)
                data = base64.b64encode(item.png.read_bytes()).decode("ascii")
                caption = html.escape(item.caption)
                body.append(
                    f'<figure id="fig-{html.escape(item.name)}"><img alt="{caption}" '
                    f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
                )
        body.append("</section>")
    if report.notes:
        body.append(
            '<h2>Notes</h2><ul id="notes">'
            + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
            + "</ul>"
        )
    body.append("<h2>Study (config, versions, timings)</h2>")
    if study:
        for key, value in study.items():
            text = json.dumps(value, indent=2, default=str)
            body.append(
                f"<details><summary>{html.escape(str(key))}</summary><pre>{html.escape(text)}</pre></details>"
            )
    else:
        body.append("<p>No study.json in the study folder.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
