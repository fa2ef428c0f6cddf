"""``examples/plot_results.py`` runs as a user runs it: a tiny study, then a seaborn figure from its
results.csv, with the plotted means checked against the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def test_plot_results_example_runs_a_study_and_plots_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "example"
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "plot_results.py"), "--out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figure = out / "test_vs_rate.png"
    assert done.stdout.strip().endswith(f"figure: {figure} (its means: {out / 'test_vs_rate.csv'})")
    with Image.open(figure) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 200
    runs = pd.read_csv(out / "results.csv")
    assert len(runs) == 8 and set(runs["method"]) == {"ce", "gce"}  # 2 rates × 2 methods × 2 seeds
    expected = runs.groupby(["dataset", "rate", "method"])["test_best_val"].mean()
    plotted = pd.read_csv(out / "test_vs_rate.csv").melt(id_vars=["dataset", "rate"], var_name="method")
    got = plotted.set_index(["dataset", "rate", "method"])["value"].sort_index()
    pd.testing.assert_series_equal(got, expected.sort_index(), check_names=False)
