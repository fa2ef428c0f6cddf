"""Every figure has the axes, labels and series it should (matplotlib objects, not only files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from benchmark import stats
from benchmark.report import figures
from benchmark.report.tables import cell_summary, rank_scores


def _legend(fig) -> list[str]:  # type: ignore[no-untyped-def]
    """The figure's one legend (outside the panels: no panel has a legend of its own)."""
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


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
    assert sorted(_legend(fig)) == ["ce", "discrimloss", "gce"]
    line = next(ln for ln in ax.lines if ln.get_label() == "discrimloss")
    np.testing.assert_allclose(line.get_xdata(), [0.2, 0.4])
    np.testing.assert_allclose(line.get_ydata(), [98.0, 96.0])
    assert to_rgb(line.get_color()) == pytest.approx(figures.method_colors(["discrimloss"])["discrimloss"])
    assert len(ax.collections) == 3  # one CI band per method
    png, pdf = figures.save(fig, tmp_path, "f")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"


def test_cd_diagram_axis_covers_every_rank_with_table_labels(results_df: pd.DataFrame) -> None:
    analysis = stats.rank_analysis(rank_scores(results_df))
    fig = figures.cd_diagram(analysis.ranks, analysis.pairwise_p)
    ax = fig.axes[0]
    k = len(analysis.ranks)
    assert list(ax.get_xticks()) == list(range(1, k + 1))  # 1..k, not only the observed ranks
    lo, hi = ax.get_xlim()
    assert lo < 1 and hi > k
    assert ax.xaxis.get_major_ticks()[0].label2.get_fontsize() >= 10  # readable ticks (on top)
    texts = {t.get_text() for t in ax.texts}
    for method, rank in analysis.ranks.items():  # as the ranks table prints them: two decimals
        assert any(method in t and f"{rank:.2f}" in t for t in texts), (method, texts)
    for text in ax.texts:  # labels beyond the ends of the axis, never over the rank markers
        if any(m in text.get_text() for m in analysis.ranks.index):
            assert text.get_position()[0] < 1 or text.get_position()[0] > k
    assert "Average rank" in ax.get_title()


def test_cd_diagram_tied_ranks_show_every_colour_as_a_ring() -> None:
    """Two methods with the same average rank share one point: the one drawn first is the larger marker,
    so the later one (on top) does not hide it; both stay exactly at the rank, untied markers as drawn."""
    from matplotlib.colors import to_rgba

    ranks = pd.Series({"coteaching": 2.25, "gce": 2.5, "ce": 3.25, "superloss": 3.25, "discrimloss": 3.75})
    names = list(ranks.index)
    p = pd.DataFrame(0.5, index=names, columns=names)
    fig = figures.cd_diagram(ranks, p)
    ax = fig.axes[0]
    colours = figures.method_colors(names)
    markers = {}
    for collection in ax.collections:
        ((x, _),) = collection.get_offsets()
        rgba = tuple(collection.get_facecolor()[0])
        method = next(m for m in names if to_rgba(colours[m]) == pytest.approx(rgba))
        markers[method] = (float(x), float(collection.get_sizes()[0]), ax.collections.index(collection))
    assert markers["ce"][0] == markers["superloss"][0] == 3.25
    (below, above) = sorted(("ce", "superloss"), key=lambda m: markers[m][2])  # drawing order
    assert markers[below][1] > markers[above][1] * 2  # a visible ring around the marker on top
    untied = {markers[m][1] for m in ("coteaching", "gce", "discrimloss")}
    assert untied == {markers[above][1]}


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
                     "memo/true_acc": 50.0 - slope * epoch - seed, "memo/clean_acc": 60.0 + epoch,
                     "diag/auroc_noisy_clean": 0.5 + 0.1 * epoch, "diag/auroc_noisy_hard": 0.5,
                     "diag/weight_clean_mean": 1.0 + epoch * seed,
                     "diag/weight_corrupted_mean": 1.0 - 0.1 * epoch}
                )  # fmt: skip
    return pd.DataFrame(rows)


def _line(ax, label: str):  # type: ignore[no-untyped-def]
    return next(ln for ln in ax.lines if ln.get_label() == label)


def test_memorisation_figure_data_true_noisy_and_clean() -> None:
    """Corrupted samples on their true and noisy labels beside the clean samples, per method."""
    hist = _histories()
    data = figures.group_curves(hist, figures.MEMO_SERIES)
    ce = data[data["method"] == "ce"].set_index(["key", "epoch"])
    # mean over seeds 1, 2 (hand-computed from the formulas above) and the seeds' range
    assert ce.loc[("memo/noisy_acc", 2), "mean"] == 21.5 and ce.loc[("memo/noisy_acc", 2), "high"] == 22.0
    assert ce.loc[("memo/true_acc", 1), "mean"] == 38.5 and ce.loc[("memo/true_acc", 1), "low"] == 38.0
    assert ce.loc[("memo/clean_acc", 0), "mean"] == 60.0
    fig = figures.memorisation_curves(hist)
    ax_ce, ax_dl = fig.axes
    assert (ax_ce.get_title(), ax_dl.get_title()) == ("ce", "discrimloss")
    labels = ["corrupted samples, true labels", "corrupted samples, noisy labels", "clean samples"]
    assert [ln.get_label() for ln in ax_dl.lines] == labels and _legend(fig) == labels
    np.testing.assert_allclose(_line(ax_dl, labels[0]).get_ydata(), [48.5, 46.5, 44.5])
    np.testing.assert_allclose(_line(ax_dl, labels[1]).get_ydata(), [1.5, 3.5, 5.5])
    np.testing.assert_allclose(_line(ax_dl, labels[2]).get_ydata(), [60.0, 61.0, 62.0])
    assert ax_ce.get_ylabel() == "training accuracy (%)" and ax_ce.get_xlabel() == "epoch"


def test_weight_evolution_clean_versus_corrupted() -> None:
    fig = figures.weight_evolution(_histories())
    ax = fig.axes[1]
    assert ax.get_title() == "discrimloss" and ax.get_ylabel() == "mean per-sample weight"
    np.testing.assert_allclose(_line(ax, "clean samples").get_ydata(), [1.0, 2.5, 4.0])  # 1 + e·s, s = 1, 2
    np.testing.assert_allclose(_line(ax, "corrupted samples").get_ydata(), [1.0, 0.9, 0.8])


def test_auroc_curves_have_integer_epochs() -> None:
    fig = figures.auroc_curves(_histories())
    assert [a.get_ylabel() for a in fig.axes] == ["AUROC corrupted vs clean", "AUROC corrupted vs clean-hard"]
    assert all(len(a.lines) == 2 for a in fig.axes) and _legend(fig) == ["ce", "discrimloss"]
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())


def test_tuning_curves_and_importances() -> None:
    fig = figures.tuning_curves({"ce": [0.3, 0.9, 0.5], "gce": [0.3, 0.9, 0.5], "mine": [0.6]})
    (ax,) = fig.axes
    assert ax.get_xlabel() == "number of trials" and _legend(fig) == ["ce", "gce", "mine"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), stats.expected_max_curve([0.3, 0.9, 0.5]))
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())  # whole trials only
    ce, gce, _ = ax.lines  # identical curves stay distinguishable: own style and marker, see-through
    assert (ce.get_linestyle(), ce.get_marker()) != (gce.get_linestyle(), gce.get_marker())
    assert ce.get_alpha() < 1 and gce.get_alpha() < 1
    fig = figures.param_importances({"gce": {"q": 0.8, "k": 0.2}})
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.2, 0.8])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["k", "q"]
    assert ax.get_title() == "gce"
    fig = figures.param_importances({"gce": {"q": 1.0}}, trials={"gce": 24})  # the count each panel rests on
    assert fig.axes[0].get_title() == "gce, from 24 completed trials"


def test_weight_evolution_leaves_out_constant_weights() -> None:
    hist = _histories()
    gce = hist[hist["method"] == "ce"].assign(method="gce")
    gce["diag/weight_clean_mean"] = gce["diag/weight_corrupted_mean"] = 1.0  # untruncated GCE: all ones
    fig = figures.weight_evolution(pd.concat([hist, gce]))
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["ce", "discrimloss"]
    assert "gce" in fig.get_supxlabel()


def test_a_given_order_sets_legends_panels_and_colours(results_df: pd.DataFrame) -> None:
    """The report passes the study's method order (io.method_order): legends, panels and colour slots
    follow it instead of the installed methods' (alphabetical) order."""
    import seaborn as sns

    palette = [tuple(c) for c in sns.color_palette("colorblind", 10)]
    order = ["gce", "discrimloss", "ce"]
    summary = cell_summary(results_df, n_resamples=99)
    fig = figures.metric_vs_rate(summary, order=order)
    assert _legend(fig) == order
    assert _legend(figures.metric_vs_rate(summary)) == ["ce", "discrimloss", "gce"]  # no order: installed
    for slot, method in enumerate(order):
        assert to_rgb(_line(fig.axes[0], method).get_color()) == pytest.approx(palette[slot])
    hist = _histories()
    assert [ax.get_title() for ax in figures.memorisation_curves(hist, order=["discrimloss", "ce"]).axes] == [
        "discrimloss",
        "ce",
    ]
    assert _legend(figures.auroc_curves(hist, order=["discrimloss", "ce"])) == ["discrimloss", "ce"]
    fig = figures.tuning_curves({"ce": [0.3], "gce": [0.5]}, order=["gce", "ce"])
    assert _legend(fig) == ["gce", "ce"]
    fig = figures.param_importances({"ce": {"q": 1.0}, "gce": {"q": 1.0}}, order=["gce", "ce"])
    assert [ax.get_title() for ax in fig.axes] == ["gce", "ce"]
    w, c = np.ones(4), np.array([True, False, False, False])
    fig = figures.weight_distributions({"ce": (w, c, None), "x": (w, c, None)}, order=["x", "ce"])
    assert [ax.get_title() for ax in fig.axes] == ["x", "ce"]
