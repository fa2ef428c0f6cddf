"""Reproduced versus reported: join a study's cells with published numbers where the protocols match.

A reference row (``benchmark/report/references/*.csv``, package data) is comparable with a reproduced cell
only when dataset, noise, rate, method, metric, model, epochs and variant agree and its selection rule maps
onto one of our test columns (best-test-epoch → ORACLE column, last-epoch → last-epoch column, best-val →
best-val column).
Every other row about a dataset of the study is listed as "not comparable" with the columns that differ.
"""

from __future__ import annotations

import difflib
import math
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, cast

import pandas as pd

from benchmark.errors import DataCorruptError, StudyConfigError
from benchmark.report.io import base_method, is_nan
from benchmark.report.render import Cell, Table

__all__ = [
    "REFERENCE_COLUMNS",
    "SELECTION_COLUMNS",
    "compare_references",
    "load_references",
    "reference_folder",
    "reference_tables",
    "reproduced_model",
]

REFERENCE_COLUMNS = (
    "dataset", "noise", "rate", "method", "metric", "mean", "std", "n_seeds", "model", "epochs",
    "selection_rule", "paper", "table",
)  # fmt: skip
SELECTION_COLUMNS = {"best-test-epoch": "test_oracle", "last-epoch": "test_last", "best-val": "test_best_val"}


def reference_folder() -> Traversable:
    """The published numbers shipped with the package (``benchmark/report/references``), found through
    :mod:`importlib.resources` so that an installed wheel has them too."""
    return files("benchmark.report") / "references"


def load_references(names: list[str] | None = None, folder: Traversable | None = None) -> pd.DataFrame:
    """Reference rows of the named files (file stems; None: all), with a ``source`` column (the stem);
    ``folder`` defaults to :func:`reference_folder`.

    Raises:
        StudyConfigError: an unknown reference name (close matches and the available names are listed).
        DataCorruptError: a reference file lacks a required column.
    """
    folder = reference_folder() if folder is None else folder
    available = (
        sorted(p.name[: -len(".csv")] for p in folder.iterdir() if p.name.endswith(".csv"))
        if folder.is_dir()
        else []
    )
    chosen = available if names is None else names
    frames = []
    for name in chosen:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise StudyConfigError(
                f"--reference {name!r} is not a reference file in {folder}.{hint} "
                f"Available: {', '.join(available)}"
            )
        with (folder / f"{name}.csv").open("rb") as handle:
            df = pd.read_csv(handle)
        missing = [c for c in REFERENCE_COLUMNS if c not in df.columns]
        if missing:
            raise DataCorruptError(f"reference file {folder / name}.csv lacks column(s) {', '.join(missing)}")
        df["source"] = name
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*REFERENCE_COLUMNS, "source"])
    refs = pd.concat(frames, ignore_index=True)
    for col in ("variant", "noise_verified", "notes"):
        if col not in refs.columns:
            refs[col] = ""
    return refs.fillna({"variant": "", "noise_verified": "", "notes": ""})


def reproduced_model(dataset: str, study: dict[str, Any], df: pd.DataFrame) -> str:
    """The model the study trained on ``dataset``: a ``model`` column of results.csv, the study's recipe
    override, or the dataset's recipe (``recipe_kind`` from study.json); "unknown" if none says."""
    if "model" in df.columns:
        models = df.loc[df["dataset"] == dataset, "model"].dropna().unique()
        if len(models) == 1:
            return str(models[0])
    training = (study.get("config") or {}).get("training") or {}
    if (
        isinstance(training, dict)
        and isinstance(training.get("recipe"), dict)
        and training["recipe"].get("model")
    ):
        return str(training["recipe"]["model"])
    try:
        from benchmark.data._adapter import get_adapter

        kind = training.get("recipe_kind", "fast") if isinstance(training, dict) else "fast"
        return str(get_adapter(dataset).recipe(cast(Any, kind)).model)
    except Exception:  # no adapter for this dataset, or it cannot say: the join reports "model unknown"
        return "unknown"


def _same(a: Any, b: Any) -> bool:
    if is_nan(a) or is_nan(b):
        return False
    try:
        return math.isclose(float(a), float(b), abs_tol=1e-9)
    except (TypeError, ValueError):
        return str(a) == str(b)


def compare_references(
    summary: pd.DataFrame, refs: pd.DataFrame, models: dict[str, str], epochs: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Split reference rows into (comparable joins, not-comparable rows with reasons, rows skipped).

    Args:
        summary: :func:`benchmark.report.tables.cell_summary` output.
        refs: :func:`load_references` output.
        models / epochs: the reproduced model and epochs per dataset.

    Returns:
        The joined comparable rows, the not-comparable rows of the study's datasets with a ``reason``,
        and the number of reference rows about datasets the study does not contain.
    """
    joined: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    skipped = 0
    datasets = set(summary["dataset"]) if not summary.empty else set()
    methods = summary["method"].map(base_method) if not summary.empty else None
    for _, ref in refs.iterrows():
        if ref["dataset"] not in datasets:
            skipped += 1
            continue
        cells = summary[
            (summary["dataset"] == ref["dataset"])
            & (summary["noise"] == ref["noise"])
            & (methods == ref["method"])
            & ((summary["rate"] - float(ref["rate"])).abs() < 1e-9)
        ]
        if cells.empty:
            base = {k: ref[k] for k in ("source", "dataset", "noise", "rate", "method", "mean", "std")}
            rejected.append({**base, "reason": "no reproduced cell with this noise, rate and method"})
            continue
        for _, cell in cells.iterrows():  # one per protocol (tuned, paper-official), side by side
            _join_one(ref, cell, models, epochs, joined, rejected)
    return pd.DataFrame(joined), pd.DataFrame(rejected), skipped


def _join_one(
    ref: pd.Series, cell: pd.Series, models: dict[str, str], epochs: dict[str, float],
    joined: list[dict[str, Any]], rejected: list[dict[str, Any]],
) -> None:  # fmt: skip
    """Join one reference row with one reproduced cell, or list it as not comparable with the reasons."""
    reasons = []
    if cell["metric"] != ref["metric"]:
        reasons.append(f"metric: {ref['metric']} ≠ {cell['metric']}")
    model = models.get(str(ref["dataset"]), "unknown")
    if not _same(ref["model"], model):
        reasons.append(f"model: {ref['model']} ≠ {model}")
    ours = epochs.get(str(ref["dataset"]), math.nan)
    if is_nan(ref["epochs"]):
        reasons.append("epochs: not given by the source")
    elif not _same(ref["epochs"], ours):
        reasons.append(f"epochs: {ref['epochs']:g} ≠ {_g(ours)}")
    if ref["selection_rule"] not in SELECTION_COLUMNS:
        reasons.append(f"selection rule: {ref['selection_rule']} (not stated by the source)")
    if str(ref["variant"]).strip():
        reasons.append(f"variant: {ref['variant']} not recorded for the reproduced runs")
    base = {k: ref[k] for k in ("source", "dataset", "noise", "rate", "mean", "std")}
    base["method"] = cell["method"]
    if reasons:
        rejected.append({**base, "reason": "; ".join(reasons)})
        return
    col = SELECTION_COLUMNS[str(ref["selection_rule"])]
    lo, hi = cell[f"{col}_lo"], cell[f"{col}_hi"]
    inside = bool(lo <= ref["mean"] <= hi) if not (is_nan(lo) or is_nan(hi)) else None
    joined.append(
        {
            **base,
            "column": col,
            "reproduced": cell[f"{col}_mean"],
            "lo": lo,
            "hi": hi,
            "n_seeds": cell["n_seeds"],
            "diff": cell[f"{col}_mean"] - float(ref["mean"]),
            "inside_ci": inside,
        }
    )


def _g(value: Any) -> str:
    return "unknown" if is_nan(value) else f"{float(value):g}"


def reference_tables(
    joined: pd.DataFrame, rejected: pd.DataFrame, skipped: int, protocol: str
) -> list[Table]:
    """Render the comparable joins and the not-comparable list."""
    rows = []
    for _, r in joined.iterrows():
        ci = f"[{r['lo']:.2f}, {r['hi']:.2f}]" if not is_nan(r["lo"]) else "no CI (n < 3)"
        col = "ORACLE (selected on test)" if r["column"] == "test_oracle" else r["column"]
        inside = {True: "yes", False: "no", None: "—"}[r["inside_ci"]]
        rows.append(
            [Cell(str(r[k])) for k in ("source", "dataset", "noise")]
            + [Cell(f"{r['rate']:g}"), Cell(str(r["method"])), Cell(col)]
            + [Cell(f"{r['mean']:.2f}" + ("" if is_nan(r["std"]) else f" ± {r['std']:.2f}"))]
            + [Cell(f"{r['reproduced']:.2f} {ci}"), Cell(f"{r['diff']:+.2f}"), Cell(inside)]
        )
    header = ["source", "dataset", "noise", "rate", "method", "our column", "reported", "reproduced [95% CI]"]
    header += ["diff", "reported in CI"]
    notes = [
        "diff = reproduced − reported. Reference numbers with their sources: "
        "benchmark/report/references/README.md."
    ]
    comparable = Table("Reproduced versus reported", protocol, header, rows, notes, key="reference")
    bad_rows = [
        [
            *(Cell(str(r[k])) for k in ("source", "dataset", "noise")),
            Cell(f"{r['rate']:g}"),
            Cell(str(r["method"])),
            Cell(f"{r['mean']:.2f}"),
            Cell(str(r["reason"])),
        ]
        for _, r in rejected.iterrows()
    ]
    more = (
        [f"{skipped} further reference row(s) concern datasets this study does not contain."]
        if skipped
        else []
    )
    not_comparable = Table(
        "Reported numbers that are not comparable",
        protocol,
        ["source", "dataset", "noise", "rate", "method", "reported", "reason (columns that differ)"],
        bad_rows,
        more,
        key="not-comparable",
    )
    return [comparable, not_comparable]
