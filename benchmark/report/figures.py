"""Figures of a study report (matplotlib objects, no pyplot state).

Every function builds a :class:`matplotlib.figure.Figure` directly (thread-safe, no global figure
registry to leak) and returns it, so tests can inspect axes, lines and legends; :func:`save` writes PNG and
PDF. One colour per method everywhere, from seaborn's colour-blind-safe "colorblind" palette. Methods come
in the ``order`` a caller gives (the report gives the study's, :func:`benchmark.report.io.method_order`, so
legends, panels and colours read as the headline table does), else in the order of the installed methods
(the registry's names); labels the order lacks follow, sorted. Colour slots follow the same order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmark import stats

__all__ = [
    "auroc_curves",
    "cd_diagram",
    "group_curves",
    "memorisation_curves",
    "method_colors",
    "metric_vs_rate",
    "ordered",
    "param_importances",
    "save",
    "tuning_curves",
    "weight_distributions",
    "weight_evolution",
    "weight_groups",
]


def _installed_methods() -> list[str]:
    """The registered methods' names (built-ins and installed plugins), sorted."""
    from benchmark.registry import METHODS  # loads the methods' modules: only once a figure asks

    return METHODS.names()


def method_colors(
    methods: Sequence[str], order: Sequence[str] | None = None
) -> dict[str, tuple[float, float, float]]:
    """A stable method → colour map: the methods of ``order`` (default: the installed methods) keep their
    slot whatever else a figure shows, others follow in sorted order."""
    palette = sns.color_palette("colorblind", 10)
    base = list(dict.fromkeys(_installed_methods() if order is None else order))
    slots = [*base, *sorted(m for m in set(methods) if m not in base)]
    return {m: tuple(palette[slots.index(m) % len(palette)]) for m in methods}  # type: ignore[misc]


def ordered(methods: Iterable[str], order: Sequence[str] | None = None) -> list[str]:
    """``methods`` in ``order`` (default: the installed methods' order), then the others sorted: legends
    and panels read the same way in every figure and in the headline table."""
    present = set(methods)
    base = list(dict.fromkeys(_installed_methods() if order is None else order))
    return [m for m in base if m in present] + sorted(present - set(base))


def save(fig: Figure, folder: Path, name: str) -> list[Path]:
    """Write ``name.png`` (150 dpi) and ``name.pdf`` into ``folder``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _legend(fig: Figure, axes: Sequence[Any], title: str = "method") -> None:
    """One legend for the whole figure, outside the panels (a legend inside a panel hides curves)."""
    seen: dict[str, Artist] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), title=title, loc="outside right upper", fontsize="small")


def _grid(n: int, width: float = 4.2, height: float = 3.2) -> tuple[Figure, list[Any]]:
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def metric_vs_rate(
    summary: pd.DataFrame,
    column: str = "test_best_val",
    label: str = "best-val epoch",
    *,
    order: Sequence[str] | None = None,
) -> Figure:
    """Test metric against noise rate, one panel per (dataset, noise), one line per method, CI bands.

    Args:
        summary: :func:`benchmark.report.tables.cell_summary` output.
        column: which test column (``test_last``, ``test_best_val``, ``test_oracle``).
        label: how the column is named on the y axis.
        order: the methods' order for the legend and colours (the study's, :func:`.io.method_order`).
    """
    panels = list(summary.groupby(["dataset", "noise"], sort=True))
    fig, axes = _grid(max(1, len(panels)))
    colors = method_colors(summary["method"].unique().tolist(), order)
    for ax, ((dataset, noise), sub) in zip(axes, panels, strict=False):
        for method in ordered(sub["method"].unique(), order):
            m = sub[sub["method"] == method].sort_values("rate")
            ax.plot(m["rate"], m[f"{column}_mean"], marker="o", color=colors[method], label=method)
            lo, hi = m[f"{column}_lo"].to_numpy(float), m[f"{column}_hi"].to_numpy(float)
            if np.isfinite(lo).any():
                ax.fill_between(m["rate"], lo, hi, color=colors[method], alpha=0.2, linewidth=0)
        metric = str(sub["metric"].iloc[0])
        ax.set_title(f"{dataset} / {noise}")
        ax.set_xticks(sorted(sub["rate"].unique()))
        ax.set_xlabel("noise rate (nominal)")
        ax.set_ylabel(f"test {metric} ({label})")
    _legend(fig, axes)
    fig.suptitle("Test metric against noise rate (bands: 95% BCa bootstrap CI)")
    return fig


def cd_diagram(
    ranks: pd.Series, pairwise_p: pd.DataFrame, *, alpha: float = 0.05, order: Sequence[str] | None = None
) -> Figure:
    """Critical-difference diagram (scikit-posthocs): average ranks, bars join methods whose pairwise
    Wilcoxon-Holm p ≥ alpha.

    The axis spans every possible rank 1..k with a tick at each (not only the observed range), the
    labels sit beyond its ends, and ranks are printed with two decimals, as in the ranks table.
    """
    import scikit_posthocs as sp

    k = len(ranks)
    fig = Figure(figsize=(7.5, 1.4 + 0.4 * k), layout="constrained")
    ax = fig.subplots()
    sig = pairwise_p.copy().fillna(1.0)
    colors = method_colors(list(ranks.index), order)
    drawn = sp.critical_difference_diagram(
        ranks, sig, ax=ax, alpha=alpha, color_palette=dict(colors),
        label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": 10},
    )  # fmt: skip
    _ring_tied_markers(drawn["markers"])
    room = 0.35 * max(1, k - 1)  # data units beyond each end of the axis for the labels
    for elbow, text in zip(drawn["elbows"], drawn["labels"], strict=True):
        x = list(elbow.get_xdata())
        end = 1 - 0.1 if text.get_ha() == "right" else k + 0.1
        elbow.set_xdata([end, x[1], x[2]])
        text.set_x(end - 0.03 if text.get_ha() == "right" else end + 0.03)
    ax.set_xlim(1 - room, k + room)
    ax.set_xticks(range(1, k + 1))
    ax.spines["top"].set_bounds(1, k)
    ax.tick_params(axis="x", labelsize=11, length=6, width=1.2)
    ax.set_title("Average rank (1 = best); bars: no significant difference (Wilcoxon-Holm)", fontsize=10)
    return fig


def _ring_tied_markers(markers: Sequence[Any]) -> None:
    """Methods with the same average rank share one point on the axis; each marker drawn later (on top) is
    made smaller than the ones below it, so every tied method's colour shows as a ring around the next
    instead of the last one hiding the others. The points stay exactly at their ranks."""
    xs = [float(marker.get_offsets()[0][0]) for marker in markers]
    for i, marker in enumerate(markers):
        tied_above = sum(1 for x in xs[i + 1 :] if math.isclose(x, xs[i], abs_tol=1e-9))  # drawn later
        if tied_above:
            base = float(marker.get_sizes()[0])
            marker.set_sizes([base * (1.0 + 0.7 * tied_above) ** 2])  # area: diameter grows 0.7 per ring


def weight_groups(
    weights: np.ndarray, corrupted: np.ndarray, hardness: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Split per-sample weights into clean-easy, clean-hard (top hardness quartile of clean) and corrupted.

    Without hardness the clean samples form one "clean" group.
    """
    weights, corrupted = np.asarray(weights, float), np.asarray(corrupted, bool)
    clean = ~corrupted
    groups: dict[str, np.ndarray] = {}
    if hardness is not None and np.asarray(hardness).size == weights.size and clean.any():
        hardness = np.asarray(hardness, float)
        cut = np.quantile(hardness[clean], 0.75)
        hard = clean & (hardness >= cut)
        groups["clean-easy"] = weights[clean & ~hard]
        groups["clean-hard"] = weights[hard]
    else:
        groups["clean"] = weights[clean]
    groups["corrupted"] = weights[corrupted]
    return groups


def weight_distributions(
    samples: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    *,
    title: str = "",
    order: Sequence[str] | None = None,
) -> Figure:
    """Per-sample weight distributions per method (one panel each) for the sample groups.

    Args:
        samples: method → (weights (n,), corrupted (n,) bool, hardness (n,) or None), e.g. from the
            ``sample_weights.npz`` artifact of one repeat run.
        title: figure title (say which dataset, noise and rate).
        order: the methods' order for the panels and colours (the study's).
    """
    fig, axes = _grid(max(1, len(samples)))
    colors = method_colors(list(samples), order)
    for ax, method in zip(axes, ordered(samples, order), strict=False):
        w, c, h = samples[method]
        groups = {k: v for k, v in weight_groups(w, c, h).items() if v.size}
        box = ax.boxplot(list(groups.values()), patch_artist=True, showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1), list(groups))
        for patch in box["boxes"]:
            patch.set_facecolor(colors[method])
            patch.set_alpha(0.6)
        ax.set_title(method)
        ax.set_xlabel("training samples")
        ax.set_ylabel("per-sample weight (larger = trusted)")
    fig.suptitle(title or "Per-sample weights at the end of training")
    return fig


def _curves(
    histories: pd.DataFrame,
    keys: Sequence[str],
    ylabels: Sequence[str],
    title: str,
    order: Sequence[str] | None = None,
) -> Figure:
    fig, axes = _grid(len(keys))
    colors = method_colors(histories["method"].unique().tolist(), order)
    for ax, key, ylabel in zip(axes, keys, ylabels, strict=True):
        if key in histories.columns:
            means = histories.groupby(["method", "epoch"])[key].mean().dropna()
            for method in ordered(histories["method"].unique(), order):
                if method in means.index.get_level_values(0):
                    series = means.loc[method]
                    ax.plot(series.index, series.to_numpy(), color=colors[method], label=method)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, axes)
    fig.suptitle(title)
    return fig


def auroc_curves(histories: pd.DataFrame, *, title: str = "", order: Sequence[str] | None = None) -> Figure:
    """The two diagnostic AUROCs over epochs (mean over seeds), one line per method that has weights.

    Args:
        histories: long table with columns method, seed, epoch, ``diag/auroc_noisy_clean``,
            ``diag/auroc_noisy_hard``.
        order: the methods' order for the legend and colours (the study's).
    """
    return _curves(
        histories,
        ["diag/auroc_noisy_clean", "diag/auroc_noisy_hard"],
        ["AUROC corrupted vs clean", "AUROC corrupted vs clean-hard"],
        title or "How well per-sample weights single out corrupted samples",
        order,
    )


MEMO_SERIES = {
    "memo/true_acc": ("corrupted samples, true labels", "tab:green", "-"),
    "memo/noisy_acc": ("corrupted samples, noisy labels", "tab:red", "--"),
    "memo/clean_acc": ("clean samples", "tab:blue", ":"),
}
WEIGHT_SERIES = {
    "diag/weight_clean_mean": ("clean samples", "tab:blue", "-"),
    "diag/weight_corrupted_mean": ("corrupted samples", "tab:red", "--"),
}


def group_curves(histories: pd.DataFrame, series: Mapping[str, tuple[str, str, str]]) -> pd.DataFrame:
    """Long table (method, key, epoch, mean, low, high) of each ``series`` key: mean over seeds and the
    range the seeds span, per method and epoch (the data of the memorisation and weight figures)."""
    rows = []
    keys = [k for k in series if k in histories.columns]
    for (method, epoch), sub in histories.groupby(["method", "epoch"], sort=True):
        for key in keys:
            values = sub[key].dropna().to_numpy(float)
            if values.size:
                rows.append(
                    {"method": method, "key": key, "epoch": int(cast(Any, epoch)),
                     "mean": float(values.mean()), "low": float(values.min()), "high": float(values.max())}
                )  # fmt: skip
    return pd.DataFrame(rows, columns=["method", "key", "epoch", "mean", "low", "high"])


def _group_figure(
    histories: pd.DataFrame,
    series: Mapping[str, tuple[str, str, str]],
    ylabel: str,
    title: str,
    skip_constant: bool = False,
    order: Sequence[str] | None = None,
) -> Figure:
    data = group_curves(histories, series)
    methods = ordered(data["method"].unique(), order) if not data.empty else []
    constant = [m for m in methods if skip_constant and np.ptp(data.loc[data["method"] == m, "mean"]) < 1e-9]
    methods = [m for m in methods if m not in constant]
    fig, axes = _grid(max(1, len(methods)))
    if constant:
        fig.supxlabel(f"left out, their weights never change: {', '.join(constant)}", fontsize="small")
    for ax, method in zip(axes, methods, strict=False):
        sub = data[data["method"] == method]
        for key, (label, color, style) in series.items():
            line = sub[sub["key"] == key]
            if line.empty:
                continue
            ax.plot(line["epoch"], line["mean"], color=color, linestyle=style, label=label)
            ax.fill_between(line["epoch"], line["low"], line["high"], color=color, alpha=0.15, linewidth=0)
        ax.set_title(method)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, axes, title="training samples")
    fig.suptitle(title)
    return fig


def memorisation_curves(
    histories: pd.DataFrame, *, title: str = "", order: Sequence[str] | None = None
) -> Figure:
    """The classic memorisation figure, one panel per method: training accuracy of the corrupted samples
    on their true and on their noisy labels over epochs, beside the clean samples' (mean over seeds, band:
    the seeds' range). A method that memorises shows the noisy-label curve rising as the true-label one
    falls.

    Args:
        histories: long table with columns method, seed, epoch and the ``memo/*`` keys of MEMO_SERIES.
        order: the methods' order for the panels (the study's).
    """
    return _group_figure(
        histories, MEMO_SERIES, "training accuracy (%)", title or "Memorisation", order=order
    )


def weight_evolution(
    histories: pd.DataFrame, *, title: str = "", order: Sequence[str] | None = None
) -> Figure:
    """Mean per-sample weight (DiscrimLoss: its σ-based weight; SuperLoss: its confidence) of the clean and
    of the corrupted training samples over epochs, one panel per method with weights; methods whose weights
    never change (CE-like, untruncated GCE) are left out and named below the panels."""
    return _group_figure(
        histories,
        WEIGHT_SERIES,
        "mean per-sample weight",
        title or "Per-sample weights over epochs",
        skip_constant=True,
        order=order,
    )


_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def tuning_curves(
    trial_values: Mapping[str, Sequence[float]],
    *,
    higher_is_better: bool = True,
    title: str = "",
    order: Sequence[str] | None = None,
) -> Figure:
    """Expected best validation value against the number of trials (Dodge et al. 2019), per method.

    Trials are whole numbers on the axis; each method has its own line style and marker and the lines are
    drawn half-transparent, so that methods whose curves coincide stay visible.
    """
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    colors = method_colors(list(trial_values), order)
    for i, method in enumerate(ordered(list(trial_values), order)):
        values = trial_values[method]
        curve = stats.expected_max_curve(values, higher_is_better=higher_is_better)
        if curve.size:
            ax.plot(
                np.arange(1, curve.size + 1), curve, color=colors[method], label=method, alpha=0.8,
                linestyle=_STYLES[i % len(_STYLES)], marker=_MARKERS[i % len(_MARKERS)], markersize=6 - i % 3,
            )  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of trials")
    ax.set_ylabel("expected best validation value")
    ax.set_title(title or "Tuning: expected best validation value")
    _legend(fig, [ax])
    return fig


def param_importances(
    importances: Mapping[str, Mapping[str, float]],
    *,
    trials: Mapping[str, int] | None = None,
    title: str = "",
    order: Sequence[str] | None = None,
) -> Figure:
    """Hyperparameter importances (Optuna) per method, one horizontal bar panel each; ``trials``: the
    completed trials each method's importances come from, stated in its panel's title."""
    fig, axes = _grid(max(1, len(importances)), width=4.0, height=2.6)
    colors = method_colors(list(importances), order)
    for ax, method in zip(axes, ordered(importances, order), strict=False):
        imp = importances[method]
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names], color=colors[method])
        n = (trials or {}).get(method)
        ax.set_title(method if n is None else f"{method}, from {n} completed trials")
        ax.set_xlabel("importance (fANOVA share)")
    fig.suptitle(title or "Hyperparameter importances")
    return fig
