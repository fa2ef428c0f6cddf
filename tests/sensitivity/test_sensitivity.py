"""Sweep grids and the robustness summary, against hand-computed cases and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from benchmark.errors import StudyConfigError
from benchmark.sensitivity import expand_axis, grid_points, robustness
from benchmark.stats import t_interval


def test_plateau_width_hand_computed() -> None:
    # a:     0.20  0.23  0.26  0.29  0.32  0.35
    # mean:  80.0  84.0  86.0  86.5  85.5  70.0   best = 0.29 (86.5), its CI low = 85.0
    # within: no   no    yes   yes   yes   no    -> plateau [0.26, 0.32], width 0.06, 3 points
    r = robustness([0.20, 0.23, 0.26, 0.29, 0.32, 0.35], [80.0, 84.0, 86.0, 86.5, 85.5, 70.0], 85.0)
    assert r.best_value == 0.29
    assert r.best_mean == 86.5
    assert r.metric_range == pytest.approx(16.5)
    assert (r.plateau_low, r.plateau_high, r.plateau_points) == (0.26, 0.32, 3)
    assert r.plateau_width == pytest.approx(0.06)


def test_plateau_is_contiguous_around_the_best() -> None:
    # 90 at the far left is inside the best point's CI but separated by a dip: not part of the plateau.
    r = robustness([1, 2, 3, 4, 5], [90.0, 60.0, 91.0, 90.5, 50.0], 89.5)
    assert (r.plateau_low, r.plateau_high, r.plateau_points) == (3.0, 4.0, 2)
    assert r.plateau_width == 1.0


def test_plateau_width_in_decades_on_a_log_axis() -> None:
    r = robustness([1e-3, 1e-2, 1e-1, 1.0], [50.0, 70.0, 71.0, 40.0], 69.0, scale="log")
    assert (r.plateau_low, r.plateau_high) == (1e-2, 1e-1)
    assert r.plateau_width == pytest.approx(1.0)


def test_lower_is_better_uses_the_upper_bound() -> None:
    # MAE: best is 2.0 at x=3 with upper bound 2.6; 2.5 at x=2 is inside, 3.0 at x=4 is not.
    r = robustness([1, 2, 3, 4], [4.0, 2.5, 2.0, 3.0], 2.6, higher_is_better=False)
    assert r.best_value == 3.0
    assert (r.plateau_low, r.plateau_high, r.plateau_width) == (2.0, 3.0, 1.0)


def test_a_peak_without_interval_is_a_one_point_plateau() -> None:
    r = robustness([1, 2, 3], [1.0, 2.0, 1.5], math.nan)
    assert (r.plateau_points, r.plateau_width) == (1, 0.0)


def test_failed_points_end_the_plateau() -> None:
    r = robustness([1, 2, 3, 4], [88.0, math.nan, 90.0, 89.9], 89.0)
    assert (r.plateau_low, r.plateau_high) == (3.0, 4.0)
    assert r.metric_range == pytest.approx(2.0)


def test_t_interval_matches_scipy() -> None:
    x = [91.2, 93.5, 92.1, 90.8]
    ci = t_interval(x)
    low, high = sps.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=sps.sem(x))
    assert ci.low == pytest.approx(low, rel=1e-12)
    assert ci.high == pytest.approx(high, rel=1e-12)
    assert math.isnan(t_interval([1.0]).low)
    assert t_interval([2.0, 2.0, 2.0]).note == "zero variance"


def test_range_axes() -> None:
    lin = expand_axis("a", {"low": 0.2, "high": 0.35, "steps": 4}, "sweeps.s.grid.a")
    assert lin.values == (0.2, 0.25, 0.3, 0.35)
    assert lin.scale == "linear"
    log = expand_axis("lr", {"low": 1e-3, "high": 1e-1, "steps": 3, "scale": "log"}, "w")
    assert log.values == (1e-3, 1e-2, 1e-1)
    assert log.scale == "log"
    ints = expand_axis("q", {"low": 45, "high": 75, "steps": 4}, "w")
    assert ints.values == (45, 55, 65, 75)
    assert all(isinstance(v, int) for v in ints.values)


def test_list_axis_detects_geometric_spacing() -> None:
    assert expand_axis("lr", [0.001, 0.01, 0.1], "w").scale == "log"
    assert expand_axis("a", [0.2, 0.3, 0.4], "w").scale == "linear"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([], "empty"),
        ([0.1, 0.1], "repeats"),
        ([math.inf], "not finite"),
        ([[1]], "numbers or strings"),
        ("0.1", "expected a list"),
        ({"low": 1, "high": 1, "steps": 2}, "must be below"),
        ({"low": 0.0, "high": 1.0, "steps": 3, "scale": "log"}, "low > 0"),
        ({"low": 0.0, "high": 1.0, "steps": 1}, "steps"),
        ({"low": 0.0, "high": 1.0, "steps": 2.5}, "steps"),
        ({"low": 0.0, "high": 1.0, "steps": 10**6}, "steps"),
        ({"low": 0.0, "high": 1.0, "steps": 3, "scale": "cubic"}, "scale"),
        ({"low": 0.0, "high": 1.0}, "'steps'"),
        ({"low": 0.0, "high": 1.0, "steps": 3, "step": 1}, "unknown key 'step'"),
        ({"low": 1, "high": 3, "steps": 5}, "repeat values"),
        ({"low": "a", "high": 1.0, "steps": 3}, "low"),
        ({"low": True, "high": 2, "steps": 2}, "low"),
    ],
)
def test_bad_axes_are_one_line(spec: object, message: str) -> None:
    with pytest.raises(StudyConfigError, match=message) as info:
        expand_axis("a", spec, "sweeps.s.grid.a")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("sweeps.s.grid.a")


def test_grid_points_of_a_pair() -> None:
    a = expand_axis("a", [0.2, 0.3], "w")
    p = expand_axis("p", [0.5, 0.6, 0.7], "w")
    points = grid_points([a, p])
    assert len(points) == 6
    assert points[0] == {"a": 0.2, "p": 0.5}
    assert points[-1] == {"a": 0.3, "p": 0.7}
    with pytest.raises(StudyConfigError):
        grid_points([a, p, a])
