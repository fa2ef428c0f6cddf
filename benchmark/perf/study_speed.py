"""Study-level speed: tracking overhead, local worker scaling, and the quick study's wall time, peak RSS
and profile (run by hand; ``discrimbench bench`` runs the same measurements).

Claims checked (issue 7), each measured side by side by the real CLI in fresh processes:
* the quick preset with MLflow logging / with ``--tracking-uri none``: ≤ 1.10;
* the quick preset with ``--workers 1`` / ``--workers 2``, MLflow on both: ≥ 1.6 on a 2-core machine,
  printed beside the machine's own ceiling right before each 2-worker run (two copies of one digits CE
  training against one copy: what two processes can gain on this machine at that moment);
* the quick preset: wall time and peak resident memory (reported; no target).

The three configurations run in turn, three times (in rotated order), and each figure compares the
configurations' median runs (``--quick``: once each, on a reduced study of 3 methods, 2 rates and 2 seeds).

``--profile FILE`` runs the reduced quick study in this process under cProfile instead, writes the stats
to FILE and prints the 25 most expensive functions by cumulative time.

Usage::

    python -m benchmark.perf.study_speed [--only tracking workers quick] [--quick] [--profile prof.out]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from benchmark.perf.ceiling import parallel_ceiling
from benchmark.perf.figure import Figure, machine, rotated_rounds

__all__ = ["REDUCED_STUDY", "main", "run_study_cli", "time_study", "tracking_figures", "workers_figures"]

# The quick preset cut to a few cells with the same per-run logging (a reduced study, labelled as such).
REDUCED_STUDY: dict[str, Any] = {
    "name": "quick-reduced",
    "description": "quick preset reduced: digits, sym-excl 0.2/0.4, ce/gce/discrimloss, 2 seeds, 2 trials",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.2, 0.4]}},
    "methods": ["ce", "gce", "discrimloss"],
    "seeds": [1, 2],
    "tuning": {"n_trials": 2, "sampler_seed": 0, "pruner": "median", "selection": "noisy-val"},
    "training": {"epochs": 4, "device": "cpu", "threads": 1, "recipe_kind": "fast"},
}


def run_study_cli(
    study: Path | str, out: Path, extra: Sequence[str] = (), timeout: float = 3600
) -> tuple[float, float]:
    """Run ``discrimbench run`` in a fresh process; returns (wall seconds, peak RSS in MiB).

    Peak RSS is the largest resident set of the command or any worker it spawned and waited for
    (``wait4`` reports the maximum over the reaped process tree).

    Raises:
        RuntimeError: the command failed (its stderr tail is in the message).
    """
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(study), "--out", str(out), "--no-report",
           "--quiet", *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=str(out.parent))
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"{' '.join(cmd)} timed out after {timeout:.0f} s")
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-1500:]
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {tail}")
    return wall, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def time_study(
    configs: Mapping[str, Sequence[str]],
    study: dict[str, Any] | str,
    repeats: int = 1,
    before: Mapping[str, Callable[[], float]] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Run the same study under several CLI flag sets, interleaved, each in a fresh folder.

    Args:
        configs: label → extra CLI flags (e.g. ``{"mlflow": [], "none": ["--tracking-uri", "none"]}``).
        study: a study mapping (written to a temporary YAML file) or a preset name.
        repeats: rounds; every round runs every configuration once, in an order rotated from round to
            round (a machine that speeds up or slows down over the rounds favours no configuration).
        before: label → a measurement taken right before each run of that configuration (the machine's
            two-process ceiling before each ``--workers 2`` run), kept under ``"before"``.

    Returns:
        label → ``{"wall_s": [...], "rss_mib": [...]}`` (and ``"before"``), in round order.
    """
    before = before or {}
    out: dict[str, dict[str, list[float]]] = {
        k: {"wall_s": [], "rss_mib": [], **({"before": []} if k in before else {})} for k in configs
    }
    labels = list(configs)
    with tempfile.TemporaryDirectory(prefix="discrimbench-bench-") as tmp:
        root = Path(tmp)
        source: str | Path = study if isinstance(study, str) else root / "study.yaml"
        if not isinstance(study, str):
            Path(source).write_text(yaml.safe_dump(study, sort_keys=False))
        for r, label in rotated_rounds(labels, repeats):
            if label in before:
                out[label]["before"].append(before[label]())
            wall, rss = run_study_cli(source, root / f"{label}-{r}", configs[label])
            out[label]["wall_s"].append(wall)
            out[label]["rss_mib"].append(rss)
    return out


_STUDY_RUNS: dict[bool, dict[str, dict[str, list[float]]]] = {}


def _study_runs(quick: bool) -> tuple[dict[str, dict[str, list[float]]], str]:
    """The quick preset (the reduced study with ``quick``) under each configuration, interleaved in one
    process tree: tracking on (the default), ``--tracking-uri none``, and ``--workers 2`` with tracking
    on; three rounds (one with ``quick``), since a shared virtual machine's speed drifts by tens of per
    cent over minutes (the same study took 122 s and 165 s here within two hours). Shared by the tracking,
    workers and quick figures so that each study runs once a round."""
    rounds = 1 if quick else 3
    label = "reduced quick study" if quick else "quick preset"
    label += f", median of {rounds} interleaved runs each" if rounds > 1 else ""
    if quick not in _STUDY_RUNS:
        configs = {"mlflow": [], "none": ["--tracking-uri", "none"], "workers2": ["--workers", "2"]}
        ceiling = {"workers2": lambda: parallel_ceiling(2.0 if quick else 5.0)}
        _STUDY_RUNS[quick] = time_study(configs, REDUCED_STUDY if quick else "quick", rounds, ceiling)
    return _STUDY_RUNS[quick], label


def _median(res: dict[str, dict[str, list[float]]], config: str) -> float:
    return statistics.median(res[config]["wall_s"])


def tracking_figures(quick: bool = False) -> list[Figure]:
    """The study with MLflow logging vs the same study with ``--tracking-uri none``."""
    res, label = _study_runs(quick)
    on, off = _median(res, "mlflow"), _median(res, "none")
    note = f"{label}, mlflow {on:.1f} s vs none {off:.1f} s"
    return [Figure("tracking/none", on / off, 1.10, "<=", "x", note, res)]


def workers_figures(quick: bool = False) -> list[Figure]:
    """``--workers 2`` (journal storage) vs one worker, tracking on both times."""
    res, label = _study_runs(quick)
    one, two = _median(res, "mlflow"), _median(res, "workers2")
    note = f"{label}, 1 worker {one:.1f} s, 2 workers {two:.1f} s"
    ceilings = res["workers2"]["before"]
    ceiling_note = (
        "two copies of one digits CE training vs one, right before each 2-worker run: "
        + ", ".join(f"{c:.2f}" for c in ceilings)
    )
    return [
        Figure("workers/speedup", one / two, 1.6, ">=", "x", note, res),
        Figure("workers/ceiling", statistics.median(ceilings), None, ">=", "x", ceiling_note),
    ]


def profile(path: Path, full: bool) -> None:
    """cProfile of one uninterrupted study run in this process (tracking on, as users run it)."""
    from benchmark.cli import main

    with tempfile.TemporaryDirectory(prefix="discrimbench-profile-") as tmp:
        study = "quick" if full else str(Path(tmp) / "study.yaml")
        if not full:
            Path(study).write_text(yaml.safe_dump(REDUCED_STUDY, sort_keys=False))
        prof = cProfile.Profile()
        prof.enable()
        code = main(["run", study, "--out", str(Path(tmp) / "out"), "--no-report", "--quiet"])
        prof.disable()
    prof.dump_stats(str(path))
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(25)
    if code:
        sys.exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["tracking", "workers", "quick"],
                        choices=["tracking", "workers", "quick"])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="one round of the reduced study")
    parser.add_argument("--profile", type=Path, help="profile the reduced quick study into this file")
    parser.add_argument("--full", action="store_true", help="with --profile: the whole quick preset")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.full)
        return
    from benchmark.perf import GROUPS

    info = machine()
    print(f"machine: {info['cpu_count']}-core CPU, {info['cuda'] or 'no GPU'}, torch {info['torch']}")
    for group in args.only:
        for figure in GROUPS[group](args.quick):
            print(figure.line())


if __name__ == "__main__":
    main()
