"""Statistics for a study's results: confidence intervals, paired tests, ranks.

Everything here is a thin, documented layer over scipy.stats (plus a small, tested Holm correction), so
that the report states exactly which test produced each number. Functions take plain arrays and return
small frozen records; the table builders in :mod:`benchmark.report.tables` apply them per cell.

Conventions: ``higher_is_better`` orients every comparison (accuracy up, MAE down); a "difference" is
always ``a - b`` in the metric's own units, and "A beats B" respects the orientation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CI",
    "PairedTest",
    "RankAnalysis",
    "bootstrap_ci",
    "expected_max_curve",
    "holm",
    "min_wilcoxon_p",
    "paired_test",
    "rank_analysis",
    "rank_biserial",
    "t_interval",
]

ALPHA = 0.05


@dataclass(frozen=True)
class CI:
    """A confidence interval with a note when it is degenerate (``low``/``high`` may be NaN)."""

    low: float
    high: float
    note: str = ""


def bootstrap_ci(
    values: Sequence[float], *, seed: int = 0, level: float = 0.95, n_resamples: int = 9999
) -> CI:
    """BCa bootstrap CI of the mean (scipy.stats.bootstrap), honest about the degenerate cases.

    With fewer than 3 values a bootstrap says nothing (every resample is one of a handful of values), so
    the CI is NaN with a note; with zero variance it is the single value itself.

    Args:
        values: the per-seed metric values (NaN entries are dropped).
        seed: seeds the resampling so the report is reproducible.
        level: confidence level.
        n_resamples: bootstrap resamples.
    """
    x = np.asarray([v for v in values if not _isnan(v)], dtype=float)
    if x.size < 3:
        return CI(math.nan, math.nan, f"n={x.size} < 3: no CI")
    if np.ptp(x) == 0.0:
        return CI(float(x[0]), float(x[0]), "zero variance")
    res = stats.bootstrap(
        (x,),
        np.mean,
        method="BCa",
        confidence_level=level,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )
    return CI(float(res.confidence_interval.low), float(res.confidence_interval.high))


def t_interval(values: Sequence[float], *, level: float = 0.95) -> CI:
    """Student-t CI of the mean over seeds: mean ± t(level, n−1)·s/√n.

    Used where each point has a handful of seeds (sensitivity curves): with 2 to 5 values a bootstrap
    cannot resample anything meaningful, while the t interval is exact under normal errors and widens
    honestly as n shrinks. NaN with a note below 2 values.
    """
    x = np.asarray([v for v in values if not _isnan(v)], dtype=float)
    if x.size < 2:
        return CI(math.nan, math.nan, f"n={x.size} < 2: no CI")
    half = float(stats.t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    mean = float(x.mean())
    return CI(mean - half, mean + half, "zero variance" if half == 0.0 else "")


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; NaN entries (tests that could not run) stay NaN and are
    left out of the family.

    Sort the m valid p-values ascending, multiply the i-th (0-based) by (m − i), take the running maximum
    and cap at 1. Written here (not statsmodels' ``multipletests``) because that function runs a full
    ``gc.collect()`` per call, which made report tables seconds slower; tests check it against a hand
    example and against statsmodels.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m:
        order = valid[np.argsort(p[valid], kind="stable")]
        scaled = p[order] * (m - np.arange(m))
        out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided p-value an exact Wilcoxon signed-rank test can give with n non-zero pairs.

    It is 2 / 2**n (all differences of one sign), so with n ≤ 5 pairs no difference can be significant at
    0.05: the report says "cannot reject" instead of implying equivalence.
    """
    return min(1.0, 2.0 / 2.0**n) if n > 0 else 1.0


def rank_biserial(diff: Sequence[float]) -> float:
    """Matched-pairs rank-biserial correlation (T+ − T−)/(T+ + T−) over non-zero differences (Kerby 2014).

    +1: every pair favours a (a − b > 0), −1: every pair favours b, NaN when all differences are zero.
    """
    d = np.asarray(diff, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return math.nan
    ranks = stats.rankdata(np.abs(d))
    t_plus, t_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((t_plus - t_minus) / (t_plus + t_minus))


@dataclass(frozen=True)
class PairedTest:
    """Paired comparison of A against B on the same seeds / noise realisations.

    Attributes:
        n: number of pairs.
        mean_diff: mean of (a − b) in metric units (sign as measured, not oriented).
        rank_biserial: matched-pairs rank-biserial correlation of (a − b), oriented so + favours A.
        prob_improvement: share of pairs where A beats B (ties count half), oriented.
        p: two-sided Wilcoxon signed-rank p (exact for small n), NaN if it could not be run.
        can_reject: False when even a unanimous result could not reach p < alpha with this n.
        note: why p is NaN or why the test cannot reject.
    """

    n: int
    mean_diff: float
    rank_biserial: float
    prob_improvement: float
    p: float
    can_reject: bool
    note: str = ""


def paired_test(a: Sequence[float], b: Sequence[float], *, higher_is_better: bool = True) -> PairedTest:
    """Wilcoxon signed-rank test, effect sizes and probability of improvement of A over B.

    Args:
        a / b: metric values of the two methods, aligned pair by pair (same seed, same noisy labels).
        higher_is_better: orientation of the metric.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples must have the same length, got {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n == 0:
        return PairedTest(0, math.nan, math.nan, math.nan, math.nan, False, "no pairs")
    diff = x - y
    sign = 1.0 if higher_is_better else -1.0
    wins = float(np.sum(sign * diff > 0) + 0.5 * np.sum(diff == 0))
    rbc = rank_biserial(sign * diff)
    nonzero = int(np.count_nonzero(diff))
    can_reject = min_wilcoxon_p(nonzero) < ALPHA
    note = (
        ""
        if can_reject
        else f"n={nonzero} non-zero pairs: min p={min_wilcoxon_p(nonzero):.3g}, cannot reject"
    )
    if nonzero == 0:
        p, note = 1.0, "all pairs tied"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.wilcoxon(x, y, zero_method="wilcox", method="auto").pvalue)
    return PairedTest(n, float(diff.mean()), rbc, wins / n, p, can_reject, note)


@dataclass(frozen=True)
class RankAnalysis:
    """Average ranks of methods across cells, Friedman test and pairwise Wilcoxon-Holm significance.

    Attributes:
        scores: cells × methods matrix of per-cell means (only cells where every method has results).
        ranks: average rank per method (1 = best), ties get the mean rank.
        friedman_stat / friedman_p: NaN when skipped (see ``note``).
        pairwise_p: methods × methods Holm-corrected Wilcoxon p over cells (NaN on the diagonal).
        note: why Friedman was skipped, if it was.
    """

    scores: pd.DataFrame
    ranks: pd.Series
    friedman_stat: float
    friedman_p: float
    pairwise_p: pd.DataFrame
    note: str = ""


def rank_analysis(scores: pd.DataFrame, *, higher_is_better: bool = True) -> RankAnalysis:
    """Average ranks (Demšar 2006), Friedman test and pairwise Wilcoxon-Holm (Benavoli et al. 2016).

    Args:
        scores: one row per cell, one column per method (per-cell mean metric); rows with a NaN are dropped.
        higher_is_better: orientation; rank 1 is the best method in a cell.
    """
    scores = scores.dropna(axis=0, how="any")
    methods = list(scores.columns)
    oriented = -scores.to_numpy(dtype=float) if higher_is_better else scores.to_numpy(dtype=float)
    if scores.shape[0] == 0:
        ranks = pd.Series(math.nan, index=methods, dtype=float)
    else:
        ranks = pd.Series(stats.rankdata(oriented, axis=1).mean(axis=0), index=methods)
    stat, p, note = math.nan, math.nan, ""
    if len(methods) < 3:
        note = f"Friedman test skipped: needs at least 3 methods, got {len(methods)}"
    elif scores.shape[0] < 2:
        note = f"Friedman test skipped: needs at least 2 complete cells, got {scores.shape[0]}"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.friedmanchisquare(*(scores[m].to_numpy(dtype=float) for m in methods))
        stat, p = float(res.statistic), float(res.pvalue)
    pairwise = pd.DataFrame(math.nan, index=methods, columns=methods)
    pairs = [(i, j) for i in range(len(methods)) for j in range(i + 1, len(methods))]
    raw = [paired_test(scores[methods[i]].tolist(), scores[methods[j]].tolist()).p for i, j in pairs]
    for (i, j), adj in zip(pairs, holm(raw), strict=True):
        pairwise.iloc[i, j] = pairwise.iloc[j, i] = adj
    return RankAnalysis(scores, ranks, stat, p, pairwise, note)


def expected_max_curve(values: Sequence[float], *, higher_is_better: bool = True) -> np.ndarray:
    """Expected best value of n trials drawn with replacement from the observed ones, n = 1..N.

    Dodge et al. 2019 ("Show your work", eq. 1): with the N values sorted so that v_(N) is the best,
    E[best of n] = Σ_i v_(i) · [(i/N)^n − ((i−1)/N)^n]. It lets methods tuned with equal budgets be
    compared at every smaller budget too.
    """
    v = np.asarray([x for x in values if not _isnan(x)], dtype=float)
    if v.size == 0:
        return np.empty(0)
    v = np.sort(v) if higher_is_better else -np.sort(-v)  # ascending in "goodness"
    total = v.size
    i = np.arange(1, total + 1, dtype=float)
    curve = [float(np.sum(v * ((i / total) ** n - ((i - 1) / total) ** n))) for n in range(1, total + 1)]
    return np.asarray(curve)


def _isnan(value: float) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
