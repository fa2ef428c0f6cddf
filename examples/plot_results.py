"""Run a tiny study, then plot test accuracy against the noise rate from its results.csv.

    python examples/plot_results.py                      # the tiny study below, into results/example
    python examples/plot_results.py --results results/quick/results.csv   # plot a finished study instead

results.csv has one row per repeat run (dataset, noise, rate, method, seed and the test metric at the last
epoch, at the best-validation epoch and the ORACLE epoch); pandas groups it, seaborn draws the mean over
seeds with a 95 % bootstrap interval per method. The figure goes next to results.csv as
``test_vs_rate.png``; the means it shows are printed and saved as ``test_vs_rate.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a file, no window: works on servers and in CI

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

STUDY = """
name: example
datasets: {digits: {}}
noises: {sym-excl: {rates: [0.0, 0.4]}}
methods: [ce, gce]
seeds: [1, 2]
tuning: {n_trials: 1}
training: {epochs: 1, device: cpu}
"""


def run_tiny_study(out: Path) -> Path:
    """The study above, without MLflow (``tracking_uri="none"``) to keep it quick; returns results.csv."""
    from benchmark.config import load_study
    from benchmark.study import plan_study, run_study

    out.mkdir(parents=True, exist_ok=True)
    study_file = out / "example.yaml"
    study_file.write_text(STUDY)
    plan = plan_study(load_study(str(study_file), out=str(out)), tracking_uri="none")
    return Path(run_study(plan, report=False, progress=False)["results"])


def plot(results_csv: Path) -> tuple[Path, pd.DataFrame]:
    """Draw test accuracy (best-validation epoch) against the noise rate, one line per method and one
    panel per dataset; returns the figure's path and the plotted means."""
    runs = pd.read_csv(results_csv)
    runs = runs[runs["status"] == "ok"]
    grid = sns.relplot(
        data=runs, x="rate", y="test_best_val", hue="method", col="dataset", kind="line",
        marker="o", errorbar=("ci", 95), height=3.5, aspect=1.2,
    )  # fmt: skip
    grid.set_axis_labels("nominal noise rate", "test metric at the best-val epoch")
    grid.figure.suptitle(f"{runs['study'].iloc[0]}: mean over seeds, 95 % bootstrap CI", y=1.03)
    path = results_csv.with_name("test_vs_rate.png")
    grid.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(grid.figure)
    means = runs.pivot_table(
        index=["dataset", "rate"], columns="method", values="test_best_val", aggfunc="mean"
    )
    return path, means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/example"), help="study output folder")
    parser.add_argument("--results", type=Path, help="plot this results.csv instead of running the study")
    args = parser.parse_args()
    results_csv = args.results or run_tiny_study(args.out)
    path, means = plot(results_csv)
    means.to_csv(path.with_suffix(".csv"))
    print(means.round(2).to_string())
    print(f"figure: {path} (its means: {path.with_suffix('.csv')})")


if __name__ == "__main__":  # the study's workers start by spawn: the guard is required
    main()
