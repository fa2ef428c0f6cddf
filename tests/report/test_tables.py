"""Tables from the fixture results.csv (conftest.py explains its known answers)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats as sps

from benchmark import stats
from benchmark.report.reference import compare_references, load_references, reference_tables
from benchmark.report.render import to_html, to_latex, to_markdown
from benchmark.report.tables import (
    cell_summary,
    headline_table,
    paired_comparisons,
    rank_table,
    summary_table,
)

SEEDS = list(range(1, 8))  # as in conftest.py


def _row(summary: pd.DataFrame, rate: float, method: str) -> pd.Series:
    return summary[(summary["rate"] == rate) & (summary["method"] == method)].iloc[0]


def test_cell_summary_numbers_and_marks(results_df: pd.DataFrame) -> None:
    summary = cell_summary(results_df)
    assert len(summary) == 6
    dl = _row(summary, 0.2, "discrimloss")
    values = [97.0 + s / 4 for s in SEEDS]
    assert dl["test_best_val_mean"] == pytest.approx(98.0)
    assert dl["test_best_val_std"] == pytest.approx(pd.Series(values).std())
    ci = stats.bootstrap_ci(values, seed=0)
    assert (dl["test_best_val_lo"], dl["test_best_val_hi"]) == (ci.low, ci.high)
    assert dl["n_seeds"] == 7 and dl["realised_rate"] == pytest.approx(0.18)
    for rate in (0.2, 0.4):
        for col in ("test_last", "test_best_val", "test_oracle"):
            assert _row(summary, rate, "discrimloss")[f"{col}_mark"] == "best"
            assert _row(summary, rate, "ce")[f"{col}_mark"] == ""  # significantly worse
    # CE vs best: exact p = 2/2**7, Holm over the 2 comparisons of the group
    assert _row(summary, 0.2, "ce")["test_best_val_p_holm"] == pytest.approx(2 * 2 / 2**7)
    assert _row(summary, 0.2, "gce")["test_best_val_mark"] == "≈"
    assert _row(summary, 0.4, "gce")["test_best_val_mark"] == ""


def test_too_few_seeds_mark_says_cannot_reject(results_df: pd.DataFrame) -> None:
    few = results_df[results_df["seed"] <= 3]
    summary = cell_summary(few)
    assert _row(summary, 0.2, "ce")["test_best_val_mark"] == "≈†"
    table = summary_table(summary, few)
    assert any("cannot reject" in n for n in table.notes)
    two = cell_summary(results_df[results_df["seed"] <= 2])
    assert "n=2 < 3: no CI" in _row(two, 0.2, "ce")["test_best_val_ci_note"]


def test_summary_table_bold_and_protocol(results_df: pd.DataFrame) -> None:
    table = summary_table(cell_summary(results_df), results_df)
    col = table.column("best-val epoch")
    methods = [c.text for c in table.column("method")]
    assert [c.bold for c in col] == [m == "discrimloss" for m in methods]
    assert "ORACLE (selected on test)" in table.header
    for needle in ("permute-block", "0.180–0.360", "noisy-val", "[1, 2, 3, 4, 5, 6, 7]", "n_trials=3"):
        assert needle in table.protocol
    assert col[methods.index("gce")].text.endswith("≈")


def test_paired_comparisons_effect_sizes(results_df: pd.DataFrame) -> None:
    pairs = paired_comparisons(results_df)
    assert len(pairs) == 8
    r = pairs[(pairs["rate"] == 0.2) & (pairs["method"] == "discrimloss") & (pairs["baseline"] == "ce")].iloc[
        0
    ]
    assert r["n_pairs"] == 7 and r["mean_diff"] == pytest.approx(1.5)
    assert r["prob_improvement"] == 1.0 and r["rank_biserial"] == 1.0
    assert r["p"] == pytest.approx(2 / 2**7)
    assert pairs["p_holm"].to_numpy() == pytest.approx(stats.holm(pairs["p"].to_numpy()))
    tie = pairs[(pairs["rate"] == 0.4) & (pairs["method"] == "gce") & (pairs["baseline"] == "ce")].iloc[0]
    assert tie["mean_diff"] == 0.0 and tie["prob_improvement"] == pytest.approx(0.5)


def test_pairs_on_different_noisy_labels_are_dropped(results_df: pd.DataFrame) -> None:
    df = results_df.copy()
    mask = (df["method"] == "ce") & (df["seed"] == 1) & (df["rate"] == 0.2)
    df.loc[mask, "noisy_labels_sha256"] = "other"
    pairs = paired_comparisons(df)
    r = pairs[(pairs["rate"] == 0.2) & (pairs["method"] == "discrimloss") & (pairs["baseline"] == "ce")].iloc[
        0
    ]
    assert r["n_pairs"] == 6 and "1 pair(s) on different noisy labels dropped" in r["note"]


def test_rank_table_ties_and_friedman(results_df: pd.DataFrame) -> None:
    analysis, table = rank_table(results_df)
    assert analysis.ranks.to_dict() == pytest.approx({"discrimloss": 1.0, "gce": 2.25, "ce": 2.75})
    means = results_df.groupby(["rate", "method"])["test_best_val"].mean().unstack()
    ref = sps.friedmanchisquare(means["ce"], means["discrimloss"], means["gce"])
    assert analysis.friedman_p == pytest.approx(ref.pvalue)
    assert [c.text for c in table.column("method")] == ["discrimloss", "gce", "ce"]
    assert any("not independent" in n for n in table.notes)


def test_references_join_where_protocols_match(results_df: pd.DataFrame) -> None:
    summary = cell_summary(results_df)
    refs = load_references(["discrimloss_internal_notes", "coteaching_readme"])
    joined, rejected, skipped = compare_references(summary, refs, {"mnist": "lenet"}, {"mnist": 20.0})
    assert sorted(zip(joined["method"], joined["rate"], strict=True)) == [
        ("ce", 0.2), ("ce", 0.4), ("discrimloss", 0.2), ("discrimloss", 0.4)
    ]  # fmt: skip
    assert set(joined["column"]) == {"test_oracle"}  # best-test-epoch ↔ the ORACLE column
    dl = joined[(joined["method"] == "discrimloss") & (joined["rate"] == 0.2)].iloc[0]
    assert dl["reproduced"] == pytest.approx(99.0) and dl["diff"] == pytest.approx(99.0 - 98.99)
    cot = rejected[rejected["method"] == "coteaching"]
    assert len(cot) == 3 and set(cot["reason"]) == {"no reproduced cell with this noise, rate and method"}
    assert skipped == len(refs) - len(joined) - len(rejected) > 0
    _, rejected10, _ = compare_references(summary, refs, {"mnist": "lenet"}, {"mnist": 10.0})
    reason = rejected10[(rejected10["method"] == "ce") & (rejected10["rate"] == 0.2)]["reason"].iloc[0]
    assert reason == "epochs: 20 ≠ 10"
    _, rejected_m, _ = compare_references(summary, refs, {"mnist": "mlp"}, {"mnist": 20.0})
    assert "model: lenet ≠ mlp" in set(rejected_m["reason"])
    tables = reference_tables(joined, rejected, skipped, "p")
    assert len(tables[0].rows) == 4 and "ORACLE (selected on test)" in [
        c.text for c in tables[0].column("our column")
    ]


def test_unknown_reference_name_is_one_clear_error() -> None:
    from benchmark.errors import StudyConfigError

    with pytest.raises(
        StudyConfigError, match=r"'elr_tabel1' is not a reference file.*Did you mean elr_table1"
    ):
        load_references(["elr_tabel1"])


def test_renderers(results_df: pd.DataFrame) -> None:
    table = summary_table(cell_summary(results_df), results_df)
    tex = to_latex(table)
    assert all(k in tex for k in (r"\toprule", r"\midrule", r"\bottomrule", r"\textbf{", r"\ensuremath{\pm}"))
    assert "permute-block" in tex and "_" not in tex.replace(r"\_", "")
    md = to_markdown(table)
    assert md.count("**") == 2 * sum(c.bold for row in table.rows for c in row)
    assert "*Protocol:*" in md
    page = to_html(table)
    assert page.count("<tr>") == len(table.rows) + 1 and "<b>" in page


def test_mae_groups_are_lower_is_better() -> None:
    rows = [
        {"dataset": "utkface", "noise": "permute-block", "rate": 0.2, "method": m, "seed": s, "metric": "mae",
         "higher_is_better": False, "test_last": v + s, "test_best_val": v + s, "test_oracle": v + s,
         "realised_rate": 0.2}
        for m, v in (("ce", 7.0), ("discrimloss", 6.0)) for s in range(3)
    ]  # fmt: skip
    summary = cell_summary(pd.DataFrame(rows))
    assert _row(summary, 0.2, "discrimloss")["test_best_val_mark"] == "best"
    assert math.isnan(_row(summary, 0.2, "ce")["test_best_val_std"]) is False


def test_headline_table_paper_layout(results_df: pd.DataFrame) -> None:
    table = headline_table(cell_summary(results_df), results_df)
    assert table.header == ["dataset", "rate", "ce", "gce", "discrimloss"]  # one noise: no noise column
    assert [c.text for c in table.column("rate")] == ["0.2", "0.4"]
    dl = table.column("discrimloss")
    mean = sum(97.0 + s / 4 for s in SEEDS) / 7
    std = pd.Series([97.0 + s / 4 for s in SEEDS]).std()
    assert dl[0].text == f"{mean:.2f} ± {std:.2f}" and dl[0].bold
    assert table.column("gce")[0].text.endswith(" ≈") and not table.column("gce")[0].bold  # not sig. worse
    assert not table.column("ce")[0].text.endswith("≈")  # significantly worse: no mark
    assert table.rows[0][0].text == "mnist (acc ↑)"
