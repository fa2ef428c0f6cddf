"""``examples/plot_results.py`` runs as a user runs it (the script as ``__main__`` with its command line):
a tiny study, then a seaborn figure from its results.csv, with the plotted means checked against the file.

It runs inside the test process rather than in a new interpreter: the study's work is a few seconds of CPU,
while a new interpreter would import torch, ``torch._dynamo`` (the first optimiser of a process) and the
study code again, which cost more than the study itself on a loaded machine."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def test_plot_results_example_runs_a_study_and_plots_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "example"
    script = REPO / "examples" / "plot_results.py"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "--out", str(out)])
    runpy.run_path(str(script), run_name="__main__")
    figure = out / "test_vs_rate.png"
    assert (
        capsys.readouterr().out.strip().endswith(f"figure: {figure} (its means: {out / 'test_vs_rate.csv'})")
    )
    with Image.open(figure) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 200
    runs = pd.read_csv(out / "results.csv")
    assert len(runs) == 8 and set(runs["method"]) == {"ce", "gce"}  # 2 rates × 2 methods × 2 seeds
    expected = runs.groupby(["dataset", "rate", "method"])["test_best_val"].mean()
    plotted = pd.read_csv(out / "test_vs_rate.csv").melt(id_vars=["dataset", "rate"], var_name="method")
    got = plotted.set_index(["dataset", "rate", "method"])["value"].sort_index()
    pd.testing.assert_series_equal(got, expected.sort_index(), check_names=False)
