"""Figures of the sensitivity sweeps (matplotlib objects, no pyplot state; saved by
:func:`benchmark.report.figures.save`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from benchmark.sensitivity import is_log_spaced

__all__ = ["importance_bars", "sensitivity_curves", "sensitivity_heatmap"]


def sensitivity_curves(
    points: pd.DataFrame,
    tuned: Mapping[tuple[str, str], Mapping[str, Any]],
    reference: Mapping[tuple[str, str, float], float],
    *,
    reference_label: str = "reference",
    title: str = "",
) -> Figure:
    """One method's 1-D sweeps on one (dataset, noise): rows = hyperparameters, columns = noise rates.

    Args:
        points: :func:`benchmark.report.sensitivity.curve_points` rows of that method, dataset and noise.
        tuned: (tuned cell id, "searched") → the tuned best values (a red dashed line where the study
            tuned the parameter: the tuned optimum was chosen with the other parameters tuned too, so it
            marks a value, not a point of this curve).
        reference: (dataset, noise, rate) → the reference method's mean (a dotted line, labelled
            ``reference_label``: the report's :func:`benchmark.report.sensitivity.reference_line`).
    """
    params = list(dict.fromkeys(points["param"]))
    rates = sorted(points["rate"].unique())
    fig = Figure(figsize=(3.6 * len(rates), 2.7 * len(params)), layout="constrained")
    axes = fig.subplots(len(params), len(rates), squeeze=False)
    metric = str(points["metric"].iloc[0])
    for i, param in enumerate(params):
        for j, rate in enumerate(rates):
            ax = axes[i][j]
            g = points[(points["param"] == param) & (points["rate"] == rate)]
            if g.empty:
                ax.set_visible(False)
                continue
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in g["x0"])
            g = g.assign(pos=g["x0"].astype(float) if numeric else range(len(g))).sort_values("pos")
            x = g["pos"].to_numpy(float)
            ax.fill_between(x, g["lo"].to_numpy(float), g["hi"].to_numpy(float), color="C0", alpha=0.2, lw=0)
            ax.plot(x, g["mean"], "o-", color="C0", label="selection split (mean, 95 % t CI)")
            ax.plot(x, g["oracle"], "s--", color="C1", ms=3, lw=1, label="test-set choice (oracle)")
            base = g["base0"].iloc[0]
            if numeric and isinstance(base, int | float) and not isinstance(base, bool) and np.isfinite(base):
                ax.axvline(float(base), color="0.3", lw=1, label="base value")
            dataset, noise, method = g["dataset"].iloc[0], g["noise"].iloc[0], g["method"].iloc[0]
            best = tuned.get((f"{dataset}/{noise}/{rate:g}/{method}", "searched"), {}).get(param)
            if numeric and isinstance(best, int | float) and not isinstance(best, bool):
                ax.axvline(float(best), color="C3", ls="--", lw=1.2, label="tuned optimum")
            ref = reference.get((str(dataset), str(noise), float(rate)))
            if ref is not None:
                ax.axhline(ref, color="0.5", ls=":", lw=1, label=f"{reference_label} (mean)")
            if numeric and is_log_spaced(x.tolist()):
                ax.set_xscale("log")
                ax.minorticks_off()
                ax.set_xticks(x, [f"{v:.3g}" for v in x])
            if not numeric:
                ax.set_xticks(x, [str(v) for v in g["x0"]])
            ax.set_xlabel(param)
            ax.set_ylabel(f"test {metric}" if j == 0 else "")
            low, high = int(g["n"].min()), int(g["n"].max())
            seeds = f"{low}" if low == high else f"{low}–{high}"
            derived = base is None or (isinstance(base, float) and not np.isfinite(base))
            ax.set_title(
                f"rate {rate:g}, n = {seeds} seeds per point"
                + ("\nbase: derived by the method" if derived else ""),
                fontsize="small",
            )
    handles: dict[str, Any] = {}
    for ax in axes.ravel():
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize="small")
    fig.suptitle(title or "Sensitivity")
    return fig


def sensitivity_heatmap(points: pd.DataFrame, *, title: str = "") -> Figure:
    """A 2-D sweep: the mean over seeds on the grid, one panel per noise rate, values written in the cells."""
    params = str(points["param"].iloc[0]).split(",")
    rates = sorted(points["rate"].unique())
    fig = Figure(figsize=(4.0 * len(rates), 3.4), layout="constrained")
    axes = fig.subplots(1, len(rates), squeeze=False)[0]
    for ax, rate in zip(axes, rates, strict=True):
        g = points[points["rate"] == rate]
        xs, ys = list(dict.fromkeys(g["x0"])), list(dict.fromkeys(g["x1"]))
        grid = np.full((len(ys), len(xs)), np.nan)
        for _, row in g.iterrows():
            grid[ys.index(row["x1"]), xs.index(row["x0"])] = row["mean"]
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        middle = float(np.nanmean([np.nanmin(grid), np.nanmax(grid)]))
        for (r, c), value in np.ndenumerate(grid):
            if np.isfinite(value):  # dark text on viridis' light upper half, white on its dark lower half
                color = "k" if value > middle else "w"
                ax.text(c, r, f"{value:.1f}", ha="center", va="center", color=color, fontsize="small")
        ax.set_xticks(range(len(xs)), [f"{v:.3g}" if isinstance(v, float) else str(v) for v in xs])
        ax.set_yticks(range(len(ys)), [f"{v:.3g}" if isinstance(v, float) else str(v) for v in ys])
        ax.set_xlabel(params[0])
        ax.set_ylabel(params[1])
        ax.set_title(f"rate {rate:g}", fontsize="small")
        fig.colorbar(image, ax=ax, label=f"test {points['metric'].iloc[0]}")
    fig.suptitle(title or "Sensitivity (2-D)")
    return fig


def importance_bars(cells: Sequence[Any]) -> Figure:
    """fANOVA and PED-ANOVA importances side by side, one panel per cell, its trial count in the title.

    Args:
        cells: ``benchmark.report.sensitivity.CellImportance`` objects (``cell``, ``trials``, ``fanova``,
            ``ped_anova``).
    """
    cols = min(3, len(cells))
    rows = int(np.ceil(len(cells) / cols))
    fig = Figure(figsize=(4.4 * cols, 2.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(cells) :]:
        ax.set_visible(False)
    for ax, cell in zip(axes, cells, strict=False):
        names = sorted(cell.fanova, key=lambda k: -cell.fanova[k])
        y = np.arange(len(names))
        ax.barh(y - 0.2, [cell.fanova[n] for n in names], height=0.4, color="C0", label="fANOVA")
        ax.barh(
            y + 0.2, [cell.ped_anova.get(n, 0.0) for n in names], height=0.4, color="C2", label="PED-ANOVA"
        )
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("importance (share)")
        ax.set_title(f"{cell.cell}\nfrom {cell.trials} completed runs", fontsize="small")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small")
    fig.suptitle("Hyperparameter importances from the sweeps")
    return fig
