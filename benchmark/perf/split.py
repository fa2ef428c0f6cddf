"""Where a study's time goes: one in-process run timed phase by phase (``bench --only quick``)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmark.perf.figure import Figure
from benchmark.perf.study_speed import _STUDY_RUNS, REDUCED_STUDY, _median, _study_runs

__all__ = ["quick_figures", "quick_split"]


def quick_figures(quick: bool = False) -> list[Figure]:
    """Where the quick study's time goes (one in-process run, MLflow on, report included): each phase
    in total and per run, the runs' training share (target ≥ 75 %) and the report (target ≤ 10 s). Wall
    time and peak RSS from the CLI in fresh processes are added when ``tracking`` or ``workers`` ran them
    in this invocation."""
    split = quick_split(REDUCED_STUDY if quick else "quick")
    label = "reduced quick study" if quick else "quick preset"
    total, runs, sec = split["total_s"], max(1, split["runs"]), split["seconds"]
    note = f"{label}, one in-process run, 1 worker, MLflow on, report included; {split['runs']} runs"
    figures = [
        Figure("quick/total", total, None, "<=", "s", note),
        Figure("quick/training_share", 100.0 * sec.get("training", 0.0) / total, 75.0, ">=", "%", note),
        Figure("quick/report", sec.get("report", 0.0), 10.0, "<=", "s", note),
    ]
    for phase, value in sorted(sec.items(), key=lambda kv: -kv[1]):
        share = f"{100.0 * value / total:.1f} % of the total, {1e3 * value / runs:.0f} ms per run"
        figures.append(Figure(f"quick/{phase.replace(' ', '_')}", value, None, "<=", "s", share, split))
    if quick in _STUDY_RUNS:
        res, cli_label = _study_runs(quick)
        note = f"{cli_label}, 1 worker, MLflow on, without the report"
        figures += [
            Figure("quick/wall", _median(res, "mlflow"), None, "<=", "s", note),
            Figure("quick/peak_rss", max(res["mlflow"]["rss_mib"]), None, "<=", "MiB", note),
        ]
    return figures


def _subclasses(cls: type) -> list[type]:
    """Every class derived from ``cls`` that is imported now (Optuna's storages, its cache over an RDB
    storage and ours included), found through the public base class instead of by name."""
    out: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return list(dict.fromkeys(out))


def _phase_targets(clock: Any) -> list[tuple[Any, str, Any]]:
    """The functions of each phase of a study run, for :class:`benchmark.phase_clock.PhaseClock`."""
    import optuna
    from optuna.storages import BaseStorage

    import benchmark.data
    import benchmark.study.execute
    import benchmark.study.outputs
    import benchmark.tracking
    import benchmark.training
    import benchmark.tuning

    def run_phase(_worker: Any, cell: Any, *args: Any, **kwargs: Any) -> str:
        return "hardness runs" if cell.provides_hardness else "run setup"

    def train_phase(*args: Any, **kwargs: Any) -> str:
        inside = clock._stack[-1].phase if clock._stack else ""  # the caller (train_run not pushed yet)
        return "hardness runs" if inside == "hardness runs" else "training"

    targets: list[tuple[Any, str, Any]] = [
        (benchmark.study.execute.RunExecutor, "execute", run_phase),
        (benchmark.training, "train_run", train_phase),
        (benchmark.data, "prepare", "data preparation"),
        (benchmark.study.outputs, "make_report", "report"),
    ]
    api = {k for k, v in vars(BaseStorage).items() if callable(v) and not k.startswith("_")}
    targets += [(cls, k, "tuning storage") for cls in _subclasses(BaseStorage) for k in api if k in vars(cls)]
    sampler = benchmark.tuning.SlotSeededSampler
    targets += [(sampler, k, "tuning sampler") for k in ("sample_relative", "sample_independent")]
    targets += [(optuna.pruners.MedianPruner, "prune", "tuning sampler")]
    tracker_api = ("cell_run", "start", "log_epoch", "log_json", "log_arrays", "finish", "close")
    for cls in (benchmark.tracking._QueuedTracker, benchmark.tracking.MlflowTracker,
                benchmark.tracking.SharedMlflowTracker):  # fmt: skip
        targets += [(cls, k, "tracking") for k in tracker_api if k in vars(cls)]
    return targets


def quick_split(study: dict[str, Any] | str = "quick") -> dict[str, Any]:
    """One in-process run of ``study`` (a preset name or a study mapping) with MLflow tracking and the
    report, timed phase by phase; returns the total, each phase's seconds and the number of runs.

    ``train_run`` itself is split off the phase that calls it: the runs' ``training`` (per-epoch
    evaluation included), ``hardness runs`` (the clean-label CE runs, whole), ``run setup`` (tags,
    configs and arrays prepared for a run), ``data preparation``, ``tuning storage`` (Optuna storage
    calls), ``tuning sampler`` (TPE and the pruner), ``tracking`` (MLflow calls, the writer's drain at
    the end included), ``report`` and ``other``.
    """
    import torch

    from benchmark.cli import main
    from benchmark.phase_clock import PhaseClock

    clock = PhaseClock()
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="discrimbench-split-") as tmp:
        source = study if isinstance(study, str) else str(Path(tmp) / "study.yaml")
        if not isinstance(study, str):
            Path(source).write_text(yaml.safe_dump(study, sort_keys=False))
        with clock.patched(_phase_targets(clock)):
            t0 = time.perf_counter()
            code = main(["run", source, "--out", str(Path(tmp) / "out"), "--quiet"])
            total = time.perf_counter() - t0
    torch.set_num_threads(threads)
    if code:
        raise RuntimeError(f"discrimbench run {study if isinstance(study, str) else 'study'} exited {code}")
    seconds = dict(clock.seconds)
    seconds["other"] = total - sum(seconds.values())
    runs = clock.calls.get("training", 0) + clock.calls.get("hardness runs", 0)
    return {"total_s": total, "seconds": seconds, "runs": runs, "calls": dict(clock.calls)}
