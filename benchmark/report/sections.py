"""What goes into each section of a report: tables and statistics from ``results.csv``, figures from
it, from the MLflow curves and from the Optuna trials, and a note for every part that had to be skipped."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

import benchmark.report.figures as figures
from benchmark.report.document import Report, ReportFigure
from benchmark.report.health import budget_health
from benchmark.report.io import (
    baseline_methods,
    comparison_baselines,
    method_names,
    method_order,
    method_weight_kinds,
)
from benchmark.report.reference import compare_references, reference_tables, reproduced_model
from benchmark.report.sensitivity import INTRO as SENSITIVITY_INTRO
from benchmark.report.sensitivity import sensitivity_part
from benchmark.report.sources import MIN_IMPORTANCE_TRIALS, Histories, TuningCell, load_tuning
from benchmark.report.tables import (
    cell_summary,
    headline_table,
    paired_comparisons,
    paired_table,
    protocol_text,
    rank_table,
    summary_table,
)

__all__ = [
    "add_curve_figures",
    "add_health",
    "add_result_figures",
    "add_sensitivity",
    "add_tables",
    "add_tuning_figures",
]


def add_health(report: Report, df: pd.DataFrame, study: dict[str, Any], out: Path) -> None:
    """The budget-health section (issue 13): its tables go in ``report.sections["health"]``, right after
    the headline. Empty sections are left out of every format."""
    report.banner, health = budget_health(df)
    if health is not None:
        report.sections["health"].tables.append(health)
    else:
        report.notes.append("Budget health: results.csv has no health columns (an older study).")


def add_tables(
    report: Report, df: pd.DataFrame, study: dict[str, Any], refs: pd.DataFrame, out: Path
) -> None:
    summary = cell_summary(df)
    summary.to_csv(out / "summary.csv", index=False)
    report.sections["headline"].tables.append(headline_table(summary, df))
    report.sections["details"].tables.append(summary_table(summary, df))
    pairs = paired_comparisons(df)
    if pairs.empty:
        report.notes.append(f"Paired comparisons skipped: {_no_pairs_reason(df)}.")
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


def _no_pairs_reason(df: pd.DataFrame) -> str:
    """Why no paired comparison was made, naming the baselines looked for (the methods that say
    ``comparison_baseline``)."""
    found = comparison_baselines(df)
    if found:
        return f"no cell has {' or '.join(found)} next to another method"
    wanted = baseline_methods()
    if not wanted:
        return "no installed method says comparison_baseline"
    return f"the study has none of the comparison baselines {', '.join(wanted)} under its own name"


def _keep(report: Report, section: str, fig: Figure, fig_dir: Path, name: str, caption: str) -> None:
    png, _pdf = figures.save(fig, fig_dir, name)
    report.sections[section].figures.append(ReportFigure(name, caption, png))


def add_result_figures(report: Report, df: pd.DataFrame, fig_dir: Path) -> None:
    """Metric against rate and the critical-difference diagram; legends and colours in the study's
    method order (:func:`.io.method_order`), as in the headline table."""
    summary = report.summary
    order = method_order(df)
    for section, col, label in (
        ("headline", "test_best_val", "best-val epoch"),
        ("details", "test_last", "last epoch"),
    ):
        fig = figures.metric_vs_rate(summary, col, label, order=order)
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
        fig = figures.cd_diagram(analysis.ranks, analysis.pairwise_p, order=order)
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


def add_curve_figures(
    report: Report, hist: Histories, df: pd.DataFrame, study: dict[str, Any], fig_dir: Path
) -> None:
    """Memorisation, weight and AUROC curves per cell, and the per-sample weight distributions of the
    methods whose weights are a real-valued trust (``LossMethod.weight_kind``), asked of the registered
    method behind each label (``study`` and ``df`` say which), so a labelled variant gets its method's."""
    if hist.note:
        report.notes.append(f"Curve figures: {hist.note}.")
    if hist.curves.empty:
        return
    order = method_order(df)
    for (dataset, noise, rate), sub in hist.curves.groupby(["dataset", "noise", "rate"], sort=True):
        tag = f"{dataset}_{noise}_{rate:g}"
        where = f"{dataset} / {noise} / rate {rate:g}"
        if _has(sub, figures.MEMO_SERIES):
            fig = figures.memorisation_curves(sub, title=f"Memorisation, {where}", order=order)
            caption = (
                f"Memorisation, {where}: training accuracy of the corrupted samples on their true and on "
                "their noisy labels, and of the clean samples (mean over seeds, band: range)."
            )
            _keep(report, "curves", fig, fig_dir, f"memorisation_{tag}", caption)
        if _has(sub, {"diag/weight_corrupted_mean": None}):  # rate 0 has no corrupted sample to compare
            fig = figures.weight_evolution(sub, title=f"Per-sample weights over epochs, {where}", order=order)
            caption = f"Mean per-sample weight of clean and corrupted samples over epochs, {where}."
            _keep(report, "curves", fig, fig_dir, f"weight_evolution_{tag}", caption)
        diag = [k for k in ("diag/auroc_noisy_clean", "diag/auroc_noisy_hard") if k in sub]
        if diag and sub[diag].notna().any().any():
            fig = figures.auroc_curves(sub, title=f"Diagnostic AUROCs, {where}", order=order)
            _keep(report, "curves", fig, fig_dir, f"auroc_{tag}", f"Diagnostic AUROCs over epochs, {where}.")
    labels = [str(m) for m in hist.runs["method"].unique()]
    kinds = method_weight_kinds(labels, method_names(study, df))
    weighted = {label for label, kind in kinds.items() if kind == "continuous"}
    runs = hist.runs[hist.runs["method"].isin(weighted)]
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
            fig = figures.weight_distributions(samples, title=f"Per-sample weights, {where}", order=order)
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


def add_tuning_figures(report: Report, df: pd.DataFrame, storage: str, name: str, fig_dir: Path) -> None:
    """Tuning curves and importances per cell group, the methods in the study's order (``df``)."""
    order = method_order(df)
    cells, note = load_tuning(storage, name)
    if note:
        report.notes.append(f"Tuning figures: {note}.")
    groups: dict[str, list[TuningCell]] = {}
    for cell in cells:
        groups.setdefault(cell.cell.rsplit("/", 1)[0], []).append(cell)
    for group, members in sorted(groups.items()):
        tag = group.replace("/", "_")
        values = {c.method: c.values for c in members if c.values}
        if values:
            fig = figures.tuning_curves(
                values, higher_is_better=members[0].higher_is_better, title=f"Tuning, {group}", order=order
            )
            _keep(
                report,
                "tuning",
                fig,
                fig_dir,
                f"tuning_{tag}",
                f"Expected best validation value against trials, {group}.",
            )
        drawn = [c for c in members if c.importances]
        report.notes.extend(f"{c.cell}: {c.note}." for c in members if c.note)
        if drawn:
            trials = {c.method: len(c.values) for c in drawn}
            fig = figures.param_importances(
                {c.method: c.importances for c in drawn},
                trials=trials,
                title=f"Hyperparameter importances, {group}",
                order=order,
            )
            counts = ", ".join(f"{m} {n}" for m, n in trials.items())
            caption = (
                f"Hyperparameter importances (fANOVA) of the tuning, {group}, from the completed trials of "
                f"each cell ({counts}; ≥ {MIN_IMPORTANCE_TRIALS} required)."
            )
            _keep(report, "tuning", fig, fig_dir, f"importances_{tag}", caption)


def add_sensitivity(report: Report, study_dir: Path, fig_dir: Path) -> None:
    """The sensitivity section (issue 17) from ``sweeps.csv``; nothing at all for a study without sweeps."""
    part = sensitivity_part(study_dir, fig_dir)
    if part is None:
        return
    section = report.sections["sensitivity"]
    section.intro = SENSITIVITY_INTRO
    section.tables.extend(part.tables)
    section.figures.extend(part.figures)
    report.notes.extend(part.notes)
