"""Every figure has the axes, labels and series it should (matplotlib objects, not only files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from benchmark import figures, stats
from benchmark.report_tables import cell_summary, rank_scores


def _legend(ax) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_method_colours_are_stable_and_colour_blind_safe() -> None:
    a = figures.method_colors(["discrimloss", "ce"])
    b = figures.method_colors(["ce", "gce", "discrimloss", "mine"])
    assert a["ce"] == b["ce"] and a["discrimloss"] == b["discrimloss"]
    assert len(set(b.values())) == 4
    import seaborn as sns

    assert b["ce"] == tuple(sns.color_palette("colorblind")[0])


def test_metric_vs_rate(results_df: pd.DataFrame, tmp_path: Path) -> None:
    summary = cell_summary(results_df, n_resamples=999)
    fig = figures.metric_vs_rate(summary, "test_best_val", "best-val epoch")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "noise rate (nominal)" and ax.get_ylabel() == "test acc (best-val epoch)"
    assert ax.get_title() == "mnist / permute-block"
    assert sorted(_legend(ax)) == ["ce", "discrimloss", "gce"]
    line = next(ln for ln in ax.lines if ln.get_label() == "discrimloss")
    np.testing.assert_allclose(line.get_xdata(), [0.2, 0.4])
    np.testing.assert_allclose(line.get_ydata(), [98.0, 96.0])
    assert to_rgb(line.get_color()) == pytest.approx(figures.method_colors(["discrimloss"])["discrimloss"])
    assert len(ax.collections) == 3  # one CI band per method
    png, pdf = figures.save(fig, tmp_path, "f")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"


def test_cd_diagram(results_df: pd.DataFrame) -> None:
    analysis = stats.rank_analysis(rank_scores(results_df))
    fig = figures.cd_diagram(analysis.ranks, analysis.pairwise_p)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for method in ("ce", "gce", "discrimloss"):
        assert method in texts
    assert "Average rank" in fig.axes[0].get_title()


def test_weight_groups_and_distribution_figure() -> None:
    weights = np.arange(12, dtype=float)
    corrupted = np.array([True] * 4 + [False] * 8)
    hardness = np.array([0.0] * 4 + [1, 2, 3, 4, 5, 6, 7, 8], dtype=float)
    groups = figures.weight_groups(weights, corrupted, hardness)
    # clean hardness 1..8: top quartile ≥ 6.25 → samples with hardness 7, 8 (weights 10, 11)
    assert groups["clean-hard"].tolist() == [10.0, 11.0]
    assert groups["clean-easy"].tolist() == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert groups["corrupted"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert list(figures.weight_groups(weights, corrupted, None)) == ["clean", "corrupted"]
    fig = figures.weight_distributions(
        {"discrimloss": (weights, corrupted, hardness), "superloss": (weights, corrupted, None)}
    )
    ax_dl, ax_sl = fig.axes
    assert ax_dl.get_title() == "discrimloss" and ax_sl.get_title() == "superloss"
    assert [t.get_text() for t in ax_dl.get_xticklabels()] == ["clean-easy", "clean-hard", "corrupted"]
    assert [t.get_text() for t in ax_sl.get_xticklabels()] == ["clean", "corrupted"]
    assert ax_dl.get_ylabel().startswith("per-sample weight")


def _histories() -> pd.DataFrame:
    rows = []
    for method, slope in (("ce", 10.0), ("discrimloss", 2.0)):
        for seed in (1, 2):
            for epoch in range(3):
                rows.append(
                    {"method": method, "seed": seed, "epoch": epoch, "memo/noisy_acc": slope * epoch + seed,
                     "diag/auroc_noisy_clean": 0.5 + 0.1 * epoch, "diag/auroc_noisy_hard": 0.5}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_memorisation_and_auroc_curves() -> None:
    fig = figures.memorisation_curves(_histories())
    (ax,) = fig.axes
    assert _legend(ax) == ["ce", "discrimloss"] and ax.get_xlabel() == "epoch"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.5, 11.5, 21.5])  # mean over the two seeds
    fig = figures.auroc_curves(_histories())
    assert [a.get_ylabel() for a in fig.axes] == ["AUROC corrupted vs clean", "AUROC corrupted vs clean-hard"]
    assert all(len(a.lines) == 2 for a in fig.axes)


def test_tuning_curves_and_importances() -> None:
    fig = figures.tuning_curves({"ce": [0.3, 0.9, 0.5], "gce": [0.6]})
    (ax,) = fig.axes
    assert ax.get_xlabel() == "number of trials" and _legend(ax) == ["ce", "gce"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), stats.expected_max_curve([0.3, 0.9, 0.5]))
    fig = figures.param_importances({"gce": {"q": 0.8, "k": 0.2}})
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.2, 0.8])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["k", "q"]
