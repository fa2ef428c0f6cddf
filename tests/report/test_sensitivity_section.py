"""The report's sensitivity section from a fixture sweeps.csv (conftest: hand-computed plateau, a 2-D grid, a
cell below the importance threshold): present with its curves, heatmap, robustness table and importances
when the study has sweeps, absent when it has none."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DL_A, SWEEP_OFFSETS, best_val, make_results  # tests/report is on sys.path
from scipy import stats as sps

from benchmark.report import make_report
from benchmark.report.sensitivity import curve_points, load_sweeps, reference_line
from benchmark.report.sensitivity_figures import sensitivity_curves


def test_no_sweeps_no_section(study_dir: Path) -> None:
    out = make_report(study_dir, formats=("md", "html", "tex"), references=[])
    for name in ("report.md", "report.html", "tables.tex"):
        text = (out / name).read_text(encoding="utf-8")
        assert "sensitivity" not in text.lower(), name
    assert not list((out / "figures").glob("sensitivity_*"))


def test_section_holds_curves_heatmap_robustness_and_importances(sweep_study_dir: Path) -> None:
    out = make_report(sweep_study_dir, formats=("md",), references=[])
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md[md.index("## Hyperparameter sensitivity") :]
    for name in ("sensitivity_discrimloss_mnist_permute-block", "sensitivity_gce_mnist_permute-block",
                 "sensitivity_dl-pq_mnist_permute-block_heatmap", "sensitivity_importances"):  # fmt: skip
        assert f"figures/{name}.png" in section
        assert (out / "figures" / f"{name}.png").is_file() and (out / "figures" / f"{name}.pdf").is_file()
    # the hand-computed plateau of dl-a at rate 0.2 (means + 2): best a = 0.3 (88), range 16, plateau
    # [0.3, 0.4] of width 0.1 (2 points); the base a = 0.2739 lies outside it
    row = (
        "| discrimloss | a | mnist/permute-block/0.2 | 5 | 0.3 | 88.00 | 16.00 | [0.3, 0.4] | 0.1 | 2 "
        "| 0.2739 | no |"
    )
    assert row in section
    assert "| gce | q | mnist/permute-block/0.4 | 2 | 0.7 | 82.00 | 4.00 |" in section
    # importances: drawn for the discrimloss cells (20 and 36 runs), refused with the count for gce's 8
    assert "each panel states its number of completed runs (≥ 20 required)" in section
    refused = (
        "Sensitivity, mnist/permute-block/0.4/gce: importances not drawn: 8 completed sweep run(s) "
        "(≥ 20 required for fANOVA and PED-ANOVA)."
    )
    assert refused in section  # the Notes come after the sections
    assert "mnist/permute-block/0.2/discrimloss: importances" not in md


def test_curve_points_are_the_mean_and_t_interval_over_seeds(sweep_study_dir: Path) -> None:
    df = load_sweeps(sweep_study_dir)
    assert df is not None
    points = curve_points(df)
    a = points[(points["sweep"] == "dl-a") & (points["rate"] == 0.4)].sort_values("x0")
    assert a["x0"].tolist() == list(DL_A) and set(a["n"]) == {4}
    assert a["mean"].tolist() == list(DL_A.values())
    half = sps.t.ppf(0.975, 3) * np.std(SWEEP_OFFSETS, ddof=1) / math.sqrt(4)
    assert a["lo"].to_numpy() == pytest.approx(np.array(list(DL_A.values())) - half)
    assert a["hi"].to_numpy() == pytest.approx(np.array(list(DL_A.values())) + half)
    assert a["oracle"].tolist() == [m + 1.0 for m in DL_A.values()]
    assert a["base0"].iloc[0] == pytest.approx(0.27391)


def test_curves_mark_the_base_value_and_the_tuned_optimum(sweep_study_dir: Path) -> None:
    df = load_sweeps(sweep_study_dir)
    assert df is not None
    points = curve_points(df)
    panel = points[(points["method"] == "discrimloss") & ~points["param"].str.contains(",")]
    tuned = {("mnist/permute-block/0.4/discrimloss", "searched"): {"a": 0.35}}
    fig = sensitivity_curves(panel, tuned, {("mnist", "permute-block", 0.4): 75.0}, reference_label="ce")
    axes = {ax.get_title().split(",")[0]: ax for ax in fig.axes if ax.get_visible() and ax.get_title()}
    assert set(axes) == {"rate 0.2", "rate 0.4"}

    def lines(ax: object, label: str) -> list[float]:
        return [float(line.get_xdata()[0]) for line in ax.get_lines() if line.get_label() == label]  # type: ignore[attr-defined]

    assert lines(axes["rate 0.4"], "base value") == pytest.approx([0.27391], abs=1e-5)
    assert lines(axes["rate 0.4"], "tuned optimum") == [0.35]
    assert lines(axes["rate 0.2"], "tuned optimum") == []  # that rate was not tuned
    assert [
        float(line.get_ydata()[0]) for line in axes["rate 0.4"].get_lines() if line.get_label() == "ce (mean)"
    ] == [75.0]
    assert axes["rate 0.4"].get_title() == "rate 0.4, n = 4 seeds per point"


@pytest.mark.parametrize(
    ("labels", "named", "expected"),
    [
        ({"ce": "ce"}, True, "ce"),
        ({"ce": "plain"}, True, "plain"),  # a labelled CE entry is still the plain task loss
        ({"ce": "plain"}, False, ""),  # no registered_method column says so: plain names no method
        ({"gce": "ce-long", "ce": "ce"}, True, "ce"),  # the method's own name before a labelled variant
    ],
)
def test_the_reference_line_is_the_method_that_sets_hardness_reference(
    sweep_study_dir: Path, labels: dict[str, str], named: bool, expected: str
) -> None:
    """The curves are read against the plain task loss, found by asking the registered method behind
    each label (``hardness_reference``), not by a method's name."""
    df = make_results()
    df = df.assign(method=df["method"].replace(labels))
    df["registered_method"] = df["registered_method"].where(df["method"] != "ce-long", "ce") if named else ""
    df = pd.concat([df[df["method"] != expected], df[df["method"] == expected]])  # it is not the first
    df.to_csv(sweep_study_dir / "results.csv", index=False)
    label, means = reference_line(sweep_study_dir)
    assert label == expected
    if expected:
        seven = range(7)
        assert means == {
            ("mnist", "permute-block", r): pytest.approx(sum(best_val("ce", r, i) for i in seven) / 7)
            for r in (0.2, 0.4)
        }
    else:
        assert means == {}
    md = (make_report(sweep_study_dir, formats=("md",), references=[]) / "report.md").read_text("utf-8")
    assert (f"{expected}'s mean dotted" in md) is bool(expected)
