"""The report asks the registered method behind a label, never a list of names: a labelled DiscrimLoss
variant (``x: {method: discrimloss, preset: ablation-no-es}``) gets DiscrimLoss's weight kind, the study's
method order leads the headline table, and the paired-comparison baselines are the methods that say so.

The study.json is written as the runner writes it (the resolved study's config, dumped to JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchmark.config import resolve_study
from benchmark.report import make_report
from benchmark.report.io import (
    comparison_baselines,
    load_study_json,
    method_names,
    method_order,
    method_weight_kinds,
    registered_method,
)
from benchmark.report.tables import cell_summary, headline_table, paired_comparisons
from tests.report.conftest import make_results, write_mlflow_store

STUDY: dict[str, Any] = {
    "name": "labelled",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.4]}},
    "methods": {
        "ce": {},
        "x": {"method": "discrimloss", "preset": "ablation-no-es"},
        "discrimloss": {"preset": "paper"},
    },
    "seeds": [1],
}


def _study_json(tmp_path: Path) -> dict[str, Any]:
    config = resolve_study(STUDY).config.model_dump(mode="json")
    (tmp_path / "study.json").write_text(json.dumps({"study": "labelled", "config": config}))
    return load_study_json(tmp_path)


def test_a_labelled_variant_maps_to_its_registered_method(tmp_path: Path) -> None:
    names = method_names(_study_json(tmp_path))
    assert names == {"ce": "ce", "x": "discrimloss", "discrimloss": "discrimloss"}
    assert registered_method("x [paper-official]", names) == "discrimloss"
    assert registered_method("unknown-label", names) == "unknown-label"
    assert method_names({}) == {}  # neither study.json nor results.csv says: every label is its own name


def test_results_csv_names_the_registered_method_beside_the_label() -> None:
    df = _relabelled()
    df.loc[df["method"] == "x", "registered_method"] = "discrimloss"
    df.loc[df.index[0], "method"] = "x [paper-official]"  # a protocol label keeps its entry's method
    df.loc[df.index[0], "registered_method"] = "discrimloss"
    assert method_names({}, df) == {"ce": "ce", "x": "discrimloss", "discrimloss": "discrimloss"}
    kinds = method_weight_kinds(method_order(df), method_names({}, df))
    assert kinds["x"] == kinds["x [paper-official]"] == "continuous" and kinds["ce"] is None


def test_a_labelled_discrimloss_variant_gets_the_weight_figures_of_discrimloss(tmp_path: Path) -> None:
    names = method_names(_study_json(tmp_path))
    kinds = method_weight_kinds(["ce", "x", "x [paper-official]", "discrimloss"], names)
    assert kinds == {
        "ce": None,
        "x": "continuous",
        "x [paper-official]": "continuous",
        "discrimloss": "continuous",
    }
    # without the study's mapping the label names no method, so it would get no weight figure
    assert method_weight_kinds(["x"], {}) == {"x": None}


def _relabelled() -> pd.DataFrame:
    """The report fixture with gce renamed to the label x: rows in the study's order ce, x, discrimloss."""
    df = make_results()
    df["method"] = df["method"].replace({"gce": "x"})
    return df[df["status"] == "ok"].reset_index(drop=True)


def test_the_study_order_leads_the_headline_and_only_methods_that_say_so_are_baselines() -> None:
    df = _relabelled()
    assert method_order(df) == ["ce", "x", "discrimloss"]
    assert comparison_baselines(df) == ["ce", "discrimloss"]  # the variant x is compared, not a baseline
    table = headline_table(cell_summary(df, n_resamples=99), df)
    assert table.header[-3:] == ["ce", "x", "discrimloss"]
    pairs = paired_comparisons(df)
    assert set(pairs["baseline"]) == {"ce", "discrimloss"}
    assert set(pairs.loc[pairs["baseline"] == "ce", "method"]) == {"x", "discrimloss"}


@pytest.mark.slow
@pytest.mark.parametrize("told_by", ["study.json", "results.csv", "nothing"])
def test_the_generated_report_draws_the_weights_of_a_labelled_discrimloss_variant(
    study_dir: Path, told_by: str
) -> None:
    """End to end: DiscrimLoss's runs carry the label x in results.csv and MLflow; the report draws their
    per-sample weight distribution when study.json or results.csv says x is DiscrimLoss, and only then."""
    df = make_results()
    df["method"] = df["method"].replace({"discrimloss": "x"})
    if told_by != "results.csv":
        df["registered_method"] = ""  # only study.json may tell (or nothing at all)
    df.to_csv(study_dir / "results.csv", index=False)
    if told_by == "study.json":
        config = resolve_study(STUDY).config.model_dump(mode="json")
        study = json.loads((study_dir / "study.json").read_text(encoding="utf-8"))
        (study_dir / "study.json").write_text(json.dumps({**study, "config": config}), encoding="utf-8")
    write_mlflow_store(study_dir, {"ce": "ce", "x": "discrimloss"})
    out = make_report(study_dir, formats=("md",), references=[])
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    md = (out / "report.md").read_text(encoding="utf-8")
    drawn = told_by != "nothing"
    assert ("weights_mnist_permute-block_0.4" in figures) is drawn
    assert ("Per-sample weights, mnist / permute-block / rate 0.4, seed 1." in md) is drawn
    assert "weight_evolution_mnist_permute-block_0.4" in figures  # drawn from the curves, whatever x is


@pytest.mark.parametrize(
    ("kept", "reason"),
    [
        ({"ce": "ce"}, "no cell has ce next to another method"),
        (
            {"gce": "gce", "discrimloss": "x"},
            "the study has none of the comparison baselines ce, discrimloss under its own name",
        ),
    ],
)
def test_the_report_names_the_baselines_it_looked_for(
    study_dir: Path, kept: dict[str, str], reason: str
) -> None:
    """No paired comparison: the report's note names the baselines (the methods that say
    comparison_baseline), a labelled DiscrimLoss variant not being one."""
    df = make_results()
    df = df[df["method"].isin(kept)].assign(method=lambda d: d["method"].map(kept))
    df.to_csv(study_dir / "results.csv", index=False)
    md = (make_report(study_dir, formats=("md",), references=[]) / "report.md").read_text(encoding="utf-8")
    assert f"Paired comparisons skipped: {reason}." in md
    assert "Paired comparisons against" not in md


def test_the_paired_table_names_its_baselines(study_dir: Path) -> None:
    md = (make_report(study_dir, formats=("md",), references=[]) / "report.md").read_text(encoding="utf-8")
    assert "Paired comparisons against ce and discrimloss" in md and "Paired comparisons skipped" not in md
