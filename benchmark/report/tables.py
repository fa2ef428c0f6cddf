"""Tables of a study: per-cell summaries, paired comparisons and ranks across cells.

Input is the DataFrame of :func:`benchmark.report.io.load_results` (one row per repeat run). A *group*
is (dataset, noise, rate): the methods of one group were trained on identical noisy labels for the same
seed, so they are compared pairwise on matched seeds (pairs whose ``noisy_labels_sha256`` differ are
dropped and counted, as they were not trained on the same labels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from benchmark import stats
from benchmark.report.figures import ordered
from benchmark.report.io import METRIC_COLUMNS, comparison_baselines, is_nan, method_order
from benchmark.report.render import Cell, Table

__all__ = [
    "COLUMN_LABELS",
    "GROUP",
    "cell_summary",
    "headline_table",
    "paired_comparisons",
    "paired_table",
    "protocol_text",
    "rank_scores",
    "rank_table",
    "summary_table",
]

GROUP = ["dataset", "noise", "rate"]
COLUMN_LABELS = {
    "test_last": "last epoch",
    "test_best_val": "best-val epoch",
    "test_oracle": "ORACLE (selected on test)",
}
DAGGER_NOTE = (
    "† too few seeds: the paired Wilcoxon test cannot reach p < 0.05 with this many pairs (cannot reject)."
)


def _floats(values: np.ndarray[Any, Any]) -> Sequence[float]:
    """A float array where :mod:`benchmark.stats` takes a sequence of floats (it reads arrays alike)."""
    return cast(Sequence[float], values)


def protocol_text(df: pd.DataFrame) -> str:
    """The protocol sentence printed next to every table: noise, realised rate, selection, seeds, budget."""

    def values(col: str, fmt: str = "{}") -> str:
        if col not in df.columns:
            return "unknown"
        vals = sorted({fmt.format(v) for v in df[col].dropna().unique()})
        return ", ".join(vals) if vals else "unknown"

    realised = "unknown"
    if "realised_rate" in df.columns and df["realised_rate"].notna().any():
        realised = f"{df['realised_rate'].min():.3f}–{df['realised_rate'].max():.3f} (per cell in the table)"
    seeds = sorted(int(s) for s in df["seed"].dropna().unique())
    return (
        f"noise generator {values('noise')}; realised noise rate {realised}; hyperparameters selected on "
        f"{values('selection')}, epoch by the noisy validation split (best-val column); seeds {seeds}; "
        f"tuning budget n_trials={values('n_trials', '{:.0f}')}; epochs={values('epochs', '{:.0f}')}"
    )


def _paired_values(df: pd.DataFrame, a: str, b: str, column: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Values of methods a and b on matched seeds of one group, and the number of pairs dropped."""
    cols = ["seed", column] + (["noisy_labels_sha256"] if "noisy_labels_sha256" in df.columns else [])
    left = df[df["method"] == a][cols]
    right = df[df["method"] == b][cols]
    merged = left.merge(right, on="seed", suffixes=("_a", "_b"))
    dropped = 0
    if "noisy_labels_sha256" in cols:
        sa, sb = merged["noisy_labels_sha256_a"], merged["noisy_labels_sha256_b"]
        mismatch = sa.notna() & sb.notna() & (sa.astype(str) != sb.astype(str))
        dropped = int(mismatch.sum())
        merged = merged[~mismatch]
    return merged[f"{column}_a"].to_numpy(float), merged[f"{column}_b"].to_numpy(float), dropped


def cell_summary(df: pd.DataFrame, *, seed: int = 0, n_resamples: int = 9999) -> pd.DataFrame:
    """One row per (dataset, noise, rate, method): mean, std, BCa CI and n for each test column, the
    realised rate, and a mark per column: "best", "≈" (not significantly different from the best,
    Holm-corrected paired Wilcoxon p ≥ 0.05), "≈†" (the same, but the test could not have rejected) or "".
    """
    rows = []
    for key, sub in df.groupby([*GROUP, "method"], sort=True):
        row: dict[str, object] = dict(zip([*GROUP, "method"], key, strict=True))
        row["metric"] = str(sub["metric"].iloc[0])
        row["higher_is_better"] = bool(sub["higher_is_better"].iloc[0])
        row["n_seeds"] = int(sub["seed"].nunique())
        row["realised_rate"] = float(sub["realised_rate"].mean()) if "realised_rate" in sub else math.nan
        for col in METRIC_COLUMNS:
            vals = sub[col].dropna().to_numpy(float)
            ci = stats.bootstrap_ci(_floats(vals), seed=seed, n_resamples=n_resamples)
            row[f"{col}_mean"] = float(vals.mean()) if vals.size else math.nan
            row[f"{col}_std"] = float(vals.std(ddof=1)) if vals.size > 1 else math.nan
            row[f"{col}_n"] = int(vals.size)
            row[f"{col}_lo"], row[f"{col}_hi"], row[f"{col}_ci_note"] = ci.low, ci.high, ci.note
            row[f"{col}_mark"] = ""
            row[f"{col}_p_holm"] = math.nan
        rows.append(row)
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    runs: dict[Any, pd.DataFrame] = dict(iter(df.groupby(GROUP, sort=False)))
    for group_key, idx in summary.groupby(GROUP, sort=False).groups.items():
        group_df = runs[group_key]
        for col in METRIC_COLUMNS:
            _mark_group(summary, list(idx), group_df, col)
    return summary


def _mark_group(summary: pd.DataFrame, idx: list[int], group_df: pd.DataFrame, col: str) -> None:
    means = summary.loc[idx, f"{col}_mean"]
    if means.isna().all():
        return
    hib = bool(summary.loc[idx[0], "higher_is_better"])
    best_i = int(cast(Any, means.idxmax() if hib else means.idxmin()))
    best_method = str(summary.loc[best_i, "method"])
    summary.loc[best_i, f"{col}_mark"] = "best"
    others = [i for i in idx if i != best_i and not is_nan(summary.loc[i, f"{col}_mean"])]
    tests = []
    for i in others:
        a, b, _ = _paired_values(group_df, str(summary.loc[i, "method"]), best_method, col)
        tests.append(stats.paired_test(_floats(a), _floats(b), higher_is_better=hib))
    adjusted = stats.holm([t.p for t in tests])
    for i, test, p in zip(others, tests, adjusted, strict=True):
        summary.loc[i, f"{col}_p_holm"] = p
        if cast(float, summary.loc[i, f"{col}_mean"]) == cast(float, summary.loc[best_i, f"{col}_mean"]):
            summary.loc[i, f"{col}_mark"] = "best"  # an exact tie shares the bold
        elif is_nan(p) or p >= stats.ALPHA:
            summary.loc[i, f"{col}_mark"] = "≈" if test.can_reject else "≈†"


def _fmt(value: float, digits: int = 2) -> str:
    return "—" if is_nan(value) else f"{value:.{digits}f}"


def summary_table(summary: pd.DataFrame, df: pd.DataFrame) -> Table:
    """The main results table: mean ± std [95% BCa CI] per test column, n seeds, realised rate."""
    header = ["dataset", "noise", "rate", "method", "metric", "n seeds", "realised rate"]
    header += [f"{COLUMN_LABELS[c]}" for c in METRIC_COLUMNS]
    rows: list[list[Cell]] = []
    for _, r in summary.iterrows():
        cells = [
            Cell(str(r["dataset"])),
            Cell(str(r["noise"])),
            Cell(f"{r['rate']:g}"),
            Cell(str(r["method"])),
            Cell(str(r["metric"]) + (" ↑" if r["higher_is_better"] else " ↓")),
            Cell(str(r["n_seeds"])),
            Cell(_fmt(r["realised_rate"], 3)),
        ]
        for col in METRIC_COLUMNS:
            ci = (
                f" [{_fmt(r[f'{col}_lo'])}, {_fmt(r[f'{col}_hi'])}]"
                if not is_nan(r[f"{col}_lo"])
                else f" [{r[f'{col}_ci_note']}]"
                if r[f"{col}_ci_note"]
                else ""
            )
            mark = r[f"{col}_mark"]
            text = f"{_fmt(r[f'{col}_mean'])} ± {_fmt(r[f'{col}_std'])}{ci}" + (
                f" {mark}" if mark.startswith("≈") else ""
            )
            cells.append(Cell(text, bold=mark == "best"))
        rows.append(cells)
    notes = [
        "mean ± std over seeds [95% BCa bootstrap CI of the mean, scipy.stats.bootstrap, seeded]; "
        "bold: best mean of its (dataset, noise, rate) group (acc ↑, mae ↓).",
        "≈: not significantly different from the best (paired Wilcoxon signed-rank on matched seeds, "
        "Holm-corrected within the group, p ≥ 0.05). " + DAGGER_NOTE,
        "ORACLE (selected on test): best test value over epochs; reads the test set, shown only for parity "
        "with papers that report it.",
    ]
    return Table("Results per cell", protocol_text(df), header, rows, notes, key="summary")


def headline_table(summary: pd.DataFrame, df: pd.DataFrame, column: str = "test_best_val") -> Table:
    """The paper-layout table: one row per (dataset, noise, rate), one column per method, mean ± std;
    bold = best of the row, ≈ = not significantly different from it (the marks of :func:`cell_summary`)."""
    methods = ordered(summary["method"].unique().tolist(), method_order(df))
    header = ["dataset", "noise", "rate", *methods]
    rows: list[list[Cell]] = []
    for (dataset, noise, rate), group in summary.groupby(GROUP, sort=True):
        by_method = {str(r["method"]): r for _, r in group.iterrows()}
        metric = str(group["metric"].iloc[0]) + (" ↑" if bool(group["higher_is_better"].iloc[0]) else " ↓")
        cells = [Cell(f"{dataset} ({metric})"), Cell(str(noise)), Cell(f"{rate:g}")]
        for method in methods:
            r = by_method.get(method)
            if r is None or is_nan(r[f"{column}_mean"]):
                cells.append(Cell("—"))
                continue
            mark = str(r[f"{column}_mark"])
            text = f"{_fmt(r[f'{column}_mean'])} ± {_fmt(r[f'{column}_std'])}"
            cells.append(Cell(text + (f" {mark}" if mark.startswith("≈") else ""), bold=mark == "best"))
        rows.append(cells)
    if summary["noise"].nunique() <= 1:
        header.pop(1)  # one noise generator: it is in the protocol line, not a column
        for row in rows:
            row.pop(1)
    notes = [
        f"Test {summary['metric'].iloc[0] if summary['metric'].nunique() == 1 else 'metric'} at the "
        f"{COLUMN_LABELS[column]} (selected on the noisy validation split), mean ± std over seeds; "
        "bold: best of the row; ≈: not significantly different from the best (paired Wilcoxon signed-rank "
        "on matched seeds, Holm-corrected within the row, p ≥ 0.05). " + DAGGER_NOTE,
        "CIs, the other selection rules and the paired tests: the per-cell tables in the details.",
    ]
    return Table("Headline results", protocol_text(df), header, rows, notes, key="headline")


def paired_comparisons(
    df: pd.DataFrame, *, column: str = "test_best_val", baselines: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each method against each baseline per group, on matched seeds, Holm-corrected across the table;
    by default the baselines are the methods that say so (:func:`.io.comparison_baselines`)."""
    if baselines is None:
        baselines = comparison_baselines(df)
    rows = []
    for key, group in df.groupby(GROUP, sort=True):
        methods = sorted(group["method"].unique())
        hib = bool(group["higher_is_better"].iloc[0])
        for base in baselines:
            if base not in methods:
                continue
            for method in methods:
                if method == base:
                    continue
                a, b, dropped = _paired_values(group, method, base, column)
                t = stats.paired_test(_floats(a), _floats(b), higher_is_better=hib)
                note = t.note + (f"; {dropped} pair(s) on different noisy labels dropped" if dropped else "")
                rows.append(
                    {
                        **dict(zip(GROUP, key, strict=True)),
                        "method": method,
                        "baseline": base,
                        "n_pairs": t.n,
                        "mean_diff": t.mean_diff,
                        "rank_biserial": t.rank_biserial,
                        "prob_improvement": t.prob_improvement,
                        "p": t.p,
                        "can_reject": t.can_reject,
                        "note": note.strip("; "),
                    }
                )
    pairs = pd.DataFrame(rows)
    if not pairs.empty:
        pairs["p_holm"] = stats.holm(_floats(pairs["p"].to_numpy(float)))
    return pairs


def paired_table(pairs: pd.DataFrame, df: pd.DataFrame, column: str = "test_best_val") -> Table:
    """Render :func:`paired_comparisons`."""
    header = ["dataset", "noise", "rate", "method", "vs", "pairs", "mean diff", "rank-biserial", "P(improve)"]
    header += ["p", "p (Holm)", "note"]
    rows = []
    for _, r in pairs.iterrows():
        significant = not is_nan(r["p_holm"]) and r["p_holm"] < stats.ALPHA
        rows.append(
            [
                Cell(str(r["dataset"])),
                Cell(str(r["noise"])),
                Cell(f"{r['rate']:g}"),
                Cell(str(r["method"])),
                Cell(str(r["baseline"])),
                Cell(str(r["n_pairs"])),
                Cell(f"{r['mean_diff']:+.2f}" if not is_nan(r["mean_diff"]) else "—"),
                Cell(_fmt(r["rank_biserial"])),
                Cell(_fmt(r["prob_improvement"])),
                Cell(_fmt(r["p"], 4)),
                Cell(_fmt(r["p_holm"], 4), bold=significant),
                Cell(str(r["note"])),
            ]
        )
    notes = [
        f"Metric: {COLUMN_LABELS[column]} test value. Pairs share dataset, noise, rate and seed, hence "
        "the same noisy labels. mean diff = method − baseline in metric units; rank-biserial and P(improve) "
        "are oriented so that positive / > 0.5 favours the method (ties count half).",
        "p: two-sided Wilcoxon signed-rank (scipy.stats.wilcoxon, exact for small n); Holm correction across "
        "every row of this table; bold: p (Holm) < 0.05.",
    ]
    against = " and ".join(dict.fromkeys(str(b) for b in pairs["baseline"])) if not pairs.empty else ""
    title = f"Paired comparisons against {against}" if against else "Paired comparisons"
    return Table(title, protocol_text(df), header, rows, notes, "paired")


def rank_scores(df: pd.DataFrame, column: str = "test_best_val") -> pd.DataFrame:
    """Cells × methods matrix of per-cell means, oriented so that higher is better (MAE negated)."""
    means = df.groupby([*GROUP, "method"])[column].mean().unstack("method")
    hib = df.groupby(GROUP)["higher_is_better"].first()
    sign = np.where(hib.reindex(means.index).to_numpy(bool), 1.0, -1.0)
    return means.mul(sign, axis=0)


def rank_table(df: pd.DataFrame, column: str = "test_best_val") -> tuple[stats.RankAnalysis, Table]:
    """Average ranks across complete cells and the Friedman test, as an analysis and a table."""
    analysis = stats.rank_analysis(rank_scores(df, column), higher_is_better=True)
    order = analysis.ranks.sort_values().index
    best = analysis.ranks.min()
    rows = [[Cell(str(m)), Cell(_fmt(analysis.ranks[m])), Cell("", False)] for m in order]
    for row, m in zip(rows, order, strict=True):
        row[1] = Cell(row[1].text, bold=analysis.ranks[m] == best)
        row[2] = Cell(str(int(analysis.scores[m].notna().sum())))
    friedman = (
        f"Friedman χ² = {analysis.friedman_stat:.3f}, p = {analysis.friedman_p:.4g} over "
        f"{analysis.scores.shape[0]} cells and {analysis.scores.shape[1]} methods "
        "(scipy.stats.friedmanchisquare)."
        if analysis.note == ""
        else analysis.note + "."
    )
    notes = [
        friedman,
        f"Ranks of the per-cell mean {COLUMN_LABELS[column]} test value (1 = best; ties share the mean "
        "rank); only cells where every method has results; MAE cells are ranked lower-is-better.",
        "Cells of one dataset at several noise rates are not independent, so the Friedman p-value and the "
        "critical-difference diagram overstate the evidence.",
    ]
    table = Table(
        "Average ranks across cells", protocol_text(df), ["method", "average rank", "cells"], rows, notes
    )
    table.key = "ranks"
    return analysis, table
