"""The sensitivity section of a study report, from ``sweeps.csv`` (and ``results.csv``/``study.json`` for
the reference line, :func:`reference_line`, and the tuned optimum); a study without ``sweeps.csv`` gets no
such section.

* Curves: the test metric (at the epoch chosen on the study's selection split) against each swept value,
  mean and 95 % Student-t interval over seeds (:func:`benchmark.stats.t_interval`), one panel per noise
  rate; the test-set choice (the best test epoch, what the papers report) dashed beside it; the base value
  marked by a grey vertical line, the tuned optimum (when the study tuned that parameter) by a red dashed
  one.
* Heatmaps of the per-point means for 2-D grids.
* Robustness per method and hyperparameter (:func:`benchmark.sensitivity.robustness`): the metric's range
  across the sweep and the plateau width around the best point.
* Importances (fANOVA and PED-ANOVA through :mod:`optuna.importance`) per (dataset, noise, rate, method),
  from all of that method's sweep runs there, the seed included as a parameter (its share is the part of
  the variance no hyperparameter explains); only from
  :data:`benchmark.report.sources.MIN_IMPORTANCE_TRIALS` completed runs up (the tuning importances'
  threshold too), with the number stated; below that they are not drawn and the report says why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import benchmark.report.figures as figures
import benchmark.report.sensitivity_figures as sensitivity_figures
from benchmark.report.document import ReportFigure
from benchmark.report.io import (
    hardness_reference_label,
    load_results,
    load_study_json,
    method_names,
    method_order,
)
from benchmark.report.render import Cell, Table
from benchmark.report.sources import MIN_IMPORTANCE_TRIALS, importance_refusal
from benchmark.sensitivity import Scale, is_log_spaced, robustness
from benchmark.stats import t_interval

__all__ = [
    "INTRO",
    "CellImportance",
    "SensitivityPart",
    "cell_importances",
    "curve_points",
    "load_sweeps",
    "reference_line",
    "sensitivity_part",
]

METRIC = "test_best_val"  # the test metric at the epoch the study's selection split chose
ORACLE = "test_oracle"  # the best test epoch: the papers' (and the official ablation boxes') choice


def load_sweeps(study_dir: Path) -> pd.DataFrame | None:
    """``sweeps.csv`` with ``swept`` and ``base`` parsed, or None when the study has no sweeps."""
    path = Path(study_dir) / "sweeps.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path)
    df["swept"] = [json.loads(s) for s in df["swept"]]
    df["base"] = [json.loads(s) for s in df["base"]]
    df["param"] = [",".join(s) for s in df["swept"]]
    return df


def curve_points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (sweep, dataset, noise, rate, point): n, mean, 95 % t interval, the oracle mean and the
    base value, from the runs that finished with a finite metric."""
    rows = []
    ok = df[(df["status"] == "ok") & df[METRIC].notna()]
    keys = ["sweep", "method", "param", "dataset", "noise", "rate"]
    for key, group in ok.groupby(keys, sort=False):
        params = str(key[2]).split(",")
        by_point: dict[str, list[int]] = {}
        for i, point in zip(group.index, group["swept"], strict=True):
            by_point.setdefault(json.dumps(point, sort_keys=True), []).append(i)
        base = group["base"].iloc[0]
        for point_key, idx in by_point.items():
            point = json.loads(point_key)
            values = group.loc[idx, METRIC].astype(float).tolist()
            ci = t_interval(values)
            rows.append({
                **dict(zip(keys, key, strict=True)), **{f"x{i}": point[p] for i, p in enumerate(params)},
                "n": len(values), "mean": float(np.mean(values)), "lo": ci.low, "hi": ci.high,
                "oracle": float(group.loc[idx, ORACLE].astype(float).mean()),
                "base0": base.get(params[0]), "base1": base.get(params[1]) if len(params) > 1 else None,
                "higher_is_better": bool(group["higher_is_better"].iloc[0]),
                "metric": str(group["metric"].iloc[0]),
            })  # fmt: skip
    return pd.DataFrame(rows)


@dataclass
class CellImportance:
    """Importances of one (dataset, noise, rate, method) from its sweep runs, or why there are none."""

    cell: str
    trials: int
    fanova: dict[str, float] = field(default_factory=dict)
    ped_anova: dict[str, float] = field(default_factory=dict)
    note: str = ""


def cell_importances(df: pd.DataFrame, min_trials: int = MIN_IMPORTANCE_TRIALS) -> list[CellImportance]:
    """fANOVA and PED-ANOVA importances per (dataset, noise, rate, method), pooling the method's sweeps.

    Each completed run is one trial whose parameters are the values it used for every hyperparameter
    swept in that cell (the base value where another sweep varied it) plus its seed. Cells with fewer than
    ``min_trials`` completed runs get a note instead.
    """
    import optuna
    from optuna.importance import (
        FanovaImportanceEvaluator,
        PedAnovaImportanceEvaluator,
        get_param_importances,
    )

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = []
    ok = df[(df["status"] == "ok") & df[METRIC].notna()]
    for (dataset, noise, rate, method), group in df.groupby(
        ["dataset", "noise", "rate", "method"], sort=True
    ):
        cell = f"{dataset}/{noise}/{rate:g}/{method}"
        done = ok.loc[ok.index.intersection(group.index)]
        entry = CellImportance(cell, len(done))
        out.append(entry)
        entry.note = importance_refusal(len(done), "sweep run(s)", "fANOVA and PED-ANOVA", min_trials)
        if entry.note:
            continue
        params = sorted({p for point in done["swept"] for p in point})
        used = [{**base, **point} for base, point in zip(done["base"], done["swept"], strict=True)]
        values = {p: [u.get(p) for u in used] for p in params}
        values["seed"] = [int(s) for s in done["seed"]]
        dists = {p: _distribution(v) for p, v in values.items()}
        study = optuna.create_study(
            direction="maximize" if bool(done["higher_is_better"].iloc[0]) else "minimize"
        )
        for i, value in enumerate(done[METRIC].astype(float)):
            trial_params = {p: _encode(values[p][i], dists[p]) for p in values}
            study.add_trial(optuna.trial.create_trial(params=trial_params, distributions=dists, value=value))
        try:
            entry.fanova = _floats(get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0)))
            entry.ped_anova = _floats(get_param_importances(study, evaluator=PedAnovaImportanceEvaluator()))
        except (ValueError, RuntimeError) as exc:
            entry.note = f"importances not computed: {exc}"
    return out


def _distribution(values: Sequence[Any]) -> Any:
    """A float range over numeric values; categorical for anything else (a None: derived by the method)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numeric) == len(values) and len(set(numeric)) > 1:
        return FloatDistribution(float(min(numeric)), float(max(numeric)))
    return CategoricalDistribution(sorted({str(v) for v in values}))


def _encode(value: Any, dist: Any) -> Any:
    from optuna.distributions import FloatDistribution

    return float(value) if isinstance(dist, FloatDistribution) else str(value)


def _floats(importances: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in importances.items()}


# ---- the report part --------------------------------------------------------------------------------

INTRO = (
    "One-at-a-time sweeps of named hyperparameters around a base configuration, every grid point run once "
    "per seed (sweeps.csv). The metric is the test metric at the epoch chosen on the study's selection "
    "split; intervals are 95 % Student-t intervals over seeds."
)


@dataclass
class SensitivityPart:
    """What the report shows for the sweeps: its tables, saved figures and notes, in reading order."""

    tables: list[Table] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sensitivity_part(study_dir: Path, fig_dir: Path) -> SensitivityPart | None:
    """The sensitivity tables, figures and notes of a study (None: the study has no sweeps)."""
    df = load_sweeps(study_dir)
    if df is None:
        return None
    part = SensitivityPart()
    if df.empty:
        part.notes.append("Sensitivity: sweeps.csv holds no finished sweep run.")
        return part
    points = curve_points(df)
    if points.empty:
        part.notes.append("Sensitivity: no sweep run finished with a finite metric.")
        return part
    tuned = _tuned_values(Path(study_dir))
    ref_label, reference = reference_line(Path(study_dir))
    ref_caption = f", {ref_label}'s mean dotted" if reference else ""
    one_d = points[~points["param"].str.contains(",")]
    for method, sub in one_d.groupby("method", sort=False):
        for (dataset, noise), panel in sub.groupby(["dataset", "noise"], sort=True):
            where = f"{dataset} / {noise}"
            fig = sensitivity_figures.sensitivity_curves(
                panel, tuned, reference, reference_label=ref_label, title=f"{method}, {where}"
            )
            caption = (
                f"{method}: test {panel['metric'].iloc[0]} against each swept hyperparameter, {where}, one "
                "panel per (hyperparameter, noise rate): mean over seeds with its 95 % t interval (solid; "
                "epoch chosen on the study's selection split), the test-set choice (best test epoch, the "
                "official ablation boxes' rule) dashed, the base value as a grey vertical line, the tuned "
                f"optimum (where the study tuned that hyperparameter) as a red dashed line{ref_caption}."
            )
            _save(part, fig, fig_dir, f"sensitivity_{method}_{dataset}_{noise}", caption)
    two_d = points[points["param"].str.contains(",")]
    for (sweep, dataset, noise), sub in two_d.groupby(["sweep", "dataset", "noise"], sort=False):
        where = f"{dataset} / {noise}"
        fig = sensitivity_figures.sensitivity_heatmap(sub, title=f"{sweep}, {where}")
        caption = f"Sweep {sweep}: mean test metric over seeds on the 2-D grid, {where}, one panel per rate."
        _save(part, fig, fig_dir, f"sensitivity_{sweep}_{dataset}_{noise}_heatmap", caption)
    if not one_d.empty:
        part.tables.append(_robustness_table(one_d))
    imps = cell_importances(df)
    part.notes.extend(f"Sensitivity, {c.cell}: {c.note}." for c in imps if c.note)
    drawn = [c for c in imps if c.fanova]
    if drawn:
        caption = (
            "Hyperparameter importances from the sweep runs of each cell (fANOVA and PED-ANOVA through "
            "optuna.importance; the seed's share is the variance no hyperparameter explains); each panel "
            f"states its number of completed runs (≥ {MIN_IMPORTANCE_TRIALS} required)."
        )
        _save(part, sensitivity_figures.importance_bars(drawn), fig_dir, "sensitivity_importances", caption)
    return part


def _save(part: SensitivityPart, fig: Figure, fig_dir: Path, name: str, caption: str) -> None:
    png, _pdf = figures.save(fig, fig_dir, name)
    part.figures.append(ReportFigure(name, caption, png))


def _robustness_table(points: pd.DataFrame) -> Table:
    rows: list[list[Any]] = []
    for (method, param, dataset, noise, rate), g in points.groupby(
        ["method", "param", "dataset", "noise", "rate"], sort=True
    ):
        x = g["x0"].tolist()
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in x):
            continue  # a categorical axis has no width
        g = g.assign(x0=g["x0"].astype(float)).sort_values("x0")
        hib = bool(g["higher_is_better"].iloc[0])
        means = g["mean"].to_numpy(float)
        best = int(np.nanargmax(means) if hib else np.nanargmin(means))
        bound = float(g["lo"].iloc[best] if hib else g["hi"].iloc[best])
        scale: Scale = "log" if is_log_spaced(g["x0"].astype(float).tolist()) else "linear"
        r = robustness(g["x0"].tolist(), means.tolist(), bound, scale=scale, higher_is_better=hib)
        base = g["base0"].iloc[0]
        base = None if base is None or (isinstance(base, float) and math.isnan(base)) else base
        unit = " dec" if scale == "log" else ""
        rows.append([
            method, param, f"{dataset}/{noise}/{rate:g}", r.points, _fmt(r.best_value), f"{r.best_mean:.2f}",
            f"{r.metric_range:.2f}", f"[{_fmt(r.plateau_low)}, {_fmt(r.plateau_high)}]",
            f"{r.plateau_width:.3g}{unit}", r.plateau_points,
            "derived" if base is None else _fmt(base),
            "—" if base is None else ("yes" if r.plateau_low <= float(base) <= r.plateau_high else "no"),
        ])  # fmt: skip
    return Table(
        title="Sensitivity: robustness per method and hyperparameter",
        protocol=(
            f"{METRIC} (test metric at the epoch chosen on the selection split); per point the mean over "
            "seeds; range = max − min of the point means; plateau = the contiguous points around the best "
            "whose mean lies within the best point's 95 % t interval, width = its extent (in decades on a "
            "log axis), pts = its grid points"
        ),
        header=["method", "param", "cell", "points", "best at", "best mean", "range", "plateau", "width",
                "pts", "base", "base on plateau"],
        rows=[[Cell(str(v)) for v in row] for row in rows],
        key="sensitivity_robustness",
    )  # fmt: skip


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _tuned_values(study_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(tuned cell id, "searched") → best params, from study.json, for the cells that searched something."""
    path = study_dir / "study.json"
    if not path.is_file():
        return {}
    out = {}
    for cell in json.loads(path.read_text()).get("cells", []):
        if cell.get("protocol", "tuned") == "tuned" and cell.get("space") and cell.get("best_params"):
            out[(str(cell["cell"]), "searched")] = {
                k: v for k, v in cell["best_params"].items() if k in cell["space"]
            }
    return out


def reference_line(study_dir: Path) -> tuple[str, dict[tuple[str, str, float], float]]:
    """The label of the plain task loss in the study (the method that sets ``hardness_reference``, asked
    of the registered method behind each label: :func:`.io.hardness_reference_label`) and its mean test
    metric per (dataset, noise, rate) from results.csv, the line each curve is read against; ("", {})
    when the study has no such method or no results.csv."""
    if not (study_dir / "results.csv").is_file():
        return "", {}
    df = load_results(study_dir)
    label = hardness_reference_label(method_order(df), method_names(load_study_json(study_dir), df))
    if label is None:
        return "", {}
    out = {}
    for (dataset, noise, rate), group in df[df["method"] == label].groupby(["dataset", "noise", "rate"]):
        mean = float(group[METRIC].mean())
        if math.isfinite(mean):
            out[(str(dataset), str(noise), float(str(rate)))] = mean
    return label, out
