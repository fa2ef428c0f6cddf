"""Known-answer tests of benchmark.stats against hand-computed values and scipy as the oracle."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from benchmark import stats


def test_holm_matches_hand_computed_example() -> None:
    # sorted p: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 → max(0.06, 0.04) = 0.06
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_agrees_with_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.2, 0.001, 0.04, 0.04, 0.5, 0.011, 0.9])
    np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1])


def test_holm_leaves_nan_out_of_the_family() -> None:
    adjusted = stats.holm([0.01, math.nan, 0.04])
    assert math.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.04])  # family of 2, not 3


def test_wilcoxon_exact_p_on_tiny_sample() -> None:
    # d = [1, -2, 3, 4, 5]: T− = 2; subsets of {1..5} with rank sum ≤ 2: {}, {1}, {2} → 3/32, two-sided 6/32
    a = np.array([11.0, 8.0, 13.0, 14.0, 15.0])
    b = np.full(5, 10.0)
    test = stats.paired_test(a, b)
    assert test.p == pytest.approx(6 / 32)
    assert test.n == 5
    assert test.mean_diff == pytest.approx(2.2)
    assert test.prob_improvement == pytest.approx(4 / 5)
    assert test.rank_biserial == pytest.approx((13 - 2) / 15)
    assert not test.can_reject and "cannot reject" in test.note  # min p with 5 pairs is 1/16


def test_unanimous_seven_pairs_reach_exact_minimum_p() -> None:
    a, b = np.arange(7.0) + 1.5, np.arange(7.0)
    test = stats.paired_test(a, b)
    assert test.p == pytest.approx(2 / 2**7)
    assert test.can_reject and test.rank_biserial == 1.0


def test_paired_test_orientation_and_ties() -> None:
    # MAE: lower is better; a wins twice, ties once, loses once → (2 + 0.5) / 4
    test = stats.paired_test([1.0, 2.0, 3.0, 5.0], [2.0, 3.0, 3.0, 4.0], higher_is_better=False)
    assert test.prob_improvement == pytest.approx(2.5 / 4)
    tied = stats.paired_test([1.0, 2.0], [1.0, 2.0])
    assert tied.p == 1.0 and tied.note == "all pairs tied" and math.isnan(tied.rank_biserial)


def test_min_wilcoxon_p() -> None:
    assert stats.min_wilcoxon_p(5) == pytest.approx(0.0625)
    assert stats.min_wilcoxon_p(6) == pytest.approx(0.03125)
    assert stats.min_wilcoxon_p(0) == 1.0


def test_bca_ci_equals_scipy_for_same_seed() -> None:
    x = np.array([90.1, 91.4, 89.7, 92.3, 90.9, 91.0])
    ci = stats.bootstrap_ci(x, seed=3)
    ref = sps.bootstrap((x,), np.mean, method="BCa", n_resamples=9999, rng=np.random.default_rng(3))
    assert (ci.low, ci.high) == (ref.confidence_interval.low, ref.confidence_interval.high)
    assert ci.low < x.mean() < ci.high and ci.note == ""


def test_degenerate_cis_are_reported_not_crashing() -> None:
    two = stats.bootstrap_ci([1.0, 2.0])
    assert math.isnan(two.low) and math.isnan(two.high) and "n=2 < 3" in two.note
    flat = stats.bootstrap_ci([5.0, 5.0, 5.0, 5.0])
    assert (flat.low, flat.high, flat.note) == (5.0, 5.0, "zero variance")
    assert "n=0" in stats.bootstrap_ci([math.nan]).note


def test_average_ranks_with_ties_and_friedman_against_scipy() -> None:
    scores = pd.DataFrame(
        {"a": [90.0, 80.0, 70.0], "b": [85.0, 80.0, 75.0], "c": [80.0, 70.0, 60.0]}, index=["x", "y", "z"]
    )
    res = stats.rank_analysis(scores)
    # cell x: a1 b2 c3; cell y: a,b tie → 1.5 each, c3; cell z: b1 a2 c3
    assert res.ranks.to_dict() == pytest.approx({"a": (1 + 1.5 + 2) / 3, "b": (2 + 1.5 + 1) / 3, "c": 3.0})
    ref = sps.friedmanchisquare(scores["a"], scores["b"], scores["c"])
    assert res.friedman_stat == pytest.approx(ref.statistic) and res.friedman_p == pytest.approx(ref.pvalue)
    assert res.pairwise_p.shape == (3, 3) and math.isnan(res.pairwise_p.loc["a", "a"])


def test_ranks_lower_is_better_and_friedman_skips() -> None:
    scores = pd.DataFrame({"a": [5.0, 6.0], "b": [4.0, 7.0]})
    res = stats.rank_analysis(scores, higher_is_better=False)
    assert res.ranks.to_dict() == {"a": 1.5, "b": 1.5}
    assert math.isnan(res.friedman_p) and "at least 3 methods, got 2" in res.note
    one_cell = stats.rank_analysis(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}))
    assert "at least 2 complete cells, got 1" in one_cell.note
    assert one_cell.ranks.to_dict() == {"a": 3.0, "b": 2.0, "c": 1.0}


def test_expected_max_curve_matches_brute_force() -> None:
    values = [0.3, 0.9, 0.5, 0.7]
    curve = stats.expected_max_curve(values)
    for n in (1, 2, 3):
        draws = list(itertools.product(values, repeat=n))
        assert curve[n - 1] == pytest.approx(np.mean([max(d) for d in draws]))
    assert curve[0] == pytest.approx(np.mean(values))
    assert np.all(np.diff(curve) >= 0)
    low = stats.expected_max_curve(values, higher_is_better=False)
    assert low[1] == pytest.approx(np.mean([min(d) for d in itertools.product(values, repeat=2)]))


def test_rank_biserial_hand_value() -> None:
    # |d| ranks: 1→1, 2→2, 3→3; positive ranks 1+3 = 4, negative 2 → (4 − 2)/6
    assert stats.rank_biserial([1.0, -2.0, 3.0, 0.0]) == pytest.approx(1 / 3)
