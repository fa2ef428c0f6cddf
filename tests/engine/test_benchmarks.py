"""The pieces behind ``discrimbench bench``: the engine benchmark script produces every figure it promises,
and ``bench`` refuses unknown groups in one line. No timing is asserted (speed is measured by
``discrimbench bench``, not by tests)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from benchmark.cli import main
from benchmark.perf import GROUP_SOURCES, GROUPS, engine_speed, scale, whole_run


def test_engine_benchmark_reports_every_target() -> None:
    res = engine_speed.run_engine_benchmark(
        dataset="synthetic-hard", model="mlp", model_kwargs={"hidden": [8]}, rounds=2, batch_size=256
    )
    assert set(res["ratios"]) == set(res["targets"]) == set(engine_speed.TARGETS)
    # the warm-up round dropped; one epoch of each of the two copies of every configuration
    assert res["samples"] == {name: 2 for name in ("plain", *engine_speed.METHODS)}
    assert res["setup"]["instances"] == engine_speed.INSTANCES == 2
    assert res["threads"] == 1
    for name, value in res["ratios"].items():
        assert math.isfinite(value) and value > 0, name
        assert res["meets_targets"][name] == (value <= engine_speed.TARGETS[name])
    with pytest.raises(ValueError, match="warm-up"):
        engine_speed.run_engine_benchmark(rounds=1)
    with pytest.raises(ValueError, match="instances"):
        engine_speed.run_engine_benchmark(instances=0)


def test_scale_benchmark_reports_every_method_and_size() -> None:
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
    res = whole_run.run_whole_run_benchmark(epochs=1, repeats=1, methods=("ce", "coteaching"))
    assert set(res["wall_s"]) == {"bare", "ce", "coteaching"}
    assert res["ratios"] == {m: res["wall_s"][m] / res["wall_s"]["bare"] for m in ("ce", "coteaching")}
    assert res["targets"] == {"ce": 1.15} and res["threads"] == 1
    with pytest.raises(ValueError, match="at least 1"):
        whole_run.run_whole_run_benchmark(repeats=0)


def test_bench_refuses_an_unknown_group_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "wokers"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'workers'?" in err, err
    for group in GROUPS:
        assert group in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="--only gpu would train a WRN-28-10")
def test_bench_names_the_instruction_set_of_the_cpu_kernels(capsys: pytest.CaptureFixture[str]) -> None:
    """Figures from machines whose kernels differ are not comparable: the line and the JSON say which."""
    capability = torch.backends.cpu.get_cpu_capability()
    assert main(["bench", "--only", "gpu"]) == 0
    assert f"torch kernels {capability})" in capsys.readouterr().out.splitlines()[0]
    assert main(["bench", "--only", "gpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["machine"]["cpu_capability"] == capability


def test_every_group_and_script_calls_into_an_importable_module() -> None:
    """``bench`` works from an installed wheel: every group is a function of a module of the package, and
    each script in ``benchmarks/`` only runs the ``main`` of such a module (nothing is read by file path)."""
    import ast
    import importlib
    import subprocess
    import sys
    from pathlib import Path

    assert list(GROUPS) == list(GROUP_SOURCES)
    for module, function in GROUP_SOURCES.values():
        assert callable(getattr(importlib.import_module(f"benchmark.perf.{module}"), function))
    scripts = Path(__file__).resolve().parents[2] / "benchmarks"
    for name, module in {"engine": "engine_speed", "scale": "scale", "whole_run": "whole_run", "gpu": "gpu",
                         "study": "study_speed"}.items():  # fmt: skip
        tree = ast.parse((scripts / f"{name}.py").read_text())
        imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
        assert [(n.module, [a.name for a in n.names]) for n in imports] == [
            (f"benchmark.perf.{module}", ["main"])
        ]
        assert callable(importlib.import_module(f"benchmark.perf.{module}").main)
    done = subprocess.run(
        [sys.executable, str(scripts / "study.py"), "--help"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "--profile" in done.stdout, done.stderr


def test_the_ceiling_probe_trains_in_two_processes_started_together() -> None:
    """The probe behind ``workers/ceiling``: each child sets up, waits for the go, trains, reports."""
    from benchmark.perf.ceiling import _probe

    rates = _probe(2, 0.3)
    assert len(rates) == 2 and all(math.isfinite(r) and r > 0 for r in rates), rates


def test_phase_clock_counts_exclusive_time_per_phase() -> None:
    """A nested call's time is its own phase's, not its caller's; the calls are restored afterwards."""
    import time

    from benchmark.phase_clock import PhaseClock

    class Work:
        def outer(self) -> None:
            time.sleep(0.05)
            self.inner()

        def inner(self) -> None:
            time.sleep(0.1)

    clock = PhaseClock()
    original = Work.inner
    with clock.patched([(Work, "outer", "a"), (Work, "inner", "b")]):
        Work().outer()
        Work().inner()
    assert Work.inner is original
    assert clock.calls == {"a": 1, "b": 2}
    assert 0.05 <= clock.seconds["a"] < 0.1  # the nested 0.1 s went to b
    assert 0.2 <= clock.seconds["b"] < 0.3


def test_quick_split_times_every_phase_of_a_real_study(tmp_path: Any) -> None:
    """The split of ``bench --only quick`` on a one-cell study: the phases add up to the wall time."""
    from benchmark.perf.split import quick_split

    study = {
        "name": "split-test", "datasets": {"digits": {}}, "noises": {"sym-excl": {"rates": [0.4]}},
        "methods": ["ce"], "seeds": [1],
        "tuning": {"n_trials": 1, "sampler_seed": 0, "pruner": "median", "selection": "noisy-val"},
        "training": {"epochs": 1, "device": "cpu", "threads": 1, "recipe_kind": "fast"},
    }  # fmt: skip
    res = quick_split(study)
    sec = res["seconds"]
    assert res["runs"] == 2 and res["calls"]["training"] == 2  # one trial and one repeat
    assert {"training", "tuning storage", "tracking", "report", "data preparation", "other"} <= set(sec)
    assert sum(sec.values()) == pytest.approx(res["total_s"])
    assert all(v > 0 for k, v in sec.items() if k != "other"), sec
