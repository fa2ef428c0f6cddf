"""The pieces behind ``discrimbench bench``: the engine benchmark script produces every figure it promises,
and ``bench`` refuses unknown groups in one line. No timing is asserted (speed is measured by
``discrimbench bench``, not by tests)."""

from __future__ import annotations

import math

import pytest

from benchmark.cli import main
from benchmark.perf import GROUPS, _load_script


def test_engine_benchmark_reports_every_target() -> None:
    engine = _load_script("engine")
    res = engine.run_engine_benchmark(
        dataset="synthetic-hard", model="mlp", model_kwargs={"hidden": [8]}, rounds=2, batch_size=256
    )
    assert set(res["ratios"]) == set(res["targets"]) == set(engine.TARGETS)
    assert res["samples"] == {name: 1 for name in ("plain", *engine.METHODS)}  # the warm-up round dropped
    assert res["threads"] == 1
    for name, value in res["ratios"].items():
        assert math.isfinite(value) and value > 0, name
        assert res["meets_targets"][name] == (value <= engine.TARGETS[name])
    with pytest.raises(ValueError, match="warm-up"):
        engine.run_engine_benchmark(rounds=1)


def test_scale_benchmark_reports_every_method_and_size() -> None:
    scale = _load_script("scale")
    res = scale.run_scale_benchmark(ns=(50, 3000), rounds=1, batch=16)
    assert set(res["step_s"]) == set(res["ratios"]) == set(scale.METHOD_NAMES)
    for name, times in res["step_s"].items():
        assert set(times) == {50, 3000} and all(t > 0 for t in times.values()), name
        assert res["ratios"][name] == times[3000] / times[50]
    # bytes of per-sample state: DiscrimLoss's loss EMA, log σ, momentum and gradient sums; one float
    # for SuperLoss's σ*, GCE's truncation weights and Co-teaching's selection record; none for CE
    assert res["bytes_per_sample"] == {
        "ce": 0.0, "gce": 4.0, "superloss": 4.0, "discrimloss": 16.0, "coteaching": 4.0
    }  # fmt: skip
    with pytest.raises(ValueError, match="at least 1"):
        scale.run_scale_benchmark(rounds=0)


def test_whole_run_benchmark_times_every_method_against_the_bare_loop() -> None:
    whole = _load_script("whole_run")
    res = whole.run_whole_run_benchmark(epochs=1, repeats=1, methods=("ce", "coteaching"))
    assert set(res["wall_s"]) == {"bare", "ce", "coteaching"}
    assert res["ratios"] == {m: res["wall_s"][m] / res["wall_s"]["bare"] for m in ("ce", "coteaching")}
    assert res["targets"] == {"ce": 1.15} and res["threads"] == 1
    with pytest.raises(ValueError, match="at least 1"):
        whole.run_whole_run_benchmark(repeats=0)


def test_bench_refuses_an_unknown_group_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "wokers"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'workers'?" in err, err
    for group in GROUPS:
        assert group in err


def test_the_ceiling_probe_trains_in_two_processes_started_together() -> None:
    """The probe behind ``workers/ceiling``: each child sets up, waits for the go, trains, reports."""
    from benchmark.perf import _probe

    rates = _probe(2, 0.3)
    assert len(rates) == 2 and all(math.isfinite(r) and r > 0 for r in rates), rates
