"""Performance measurements shared by ``discrimbench bench`` and the scripts in ``benchmarks/``.

Every figure is a ratio measured side by side in one invocation (so that machine load hits both sides
alike) or an absolute number printed with the machine it was measured on. Study-level figures run the
real CLI in subprocesses (what a user waits for), in rounds that run every configuration once in a rotated
order; a figure is the ratio of the configurations' medians over the rounds, as for the engine's epochs:
on a shared virtual machine single runs drift by tens of per cent, and the fastest of a few runs follows
whichever got a lucky moment.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

__all__ = [
    "GROUPS",
    "REDUCED_STUDY",
    "Figure",
    "machine",
    "measure",
    "parallel_ceiling",
    "run_study_cli",
    "time_study",
]

REPO = Path(__file__).resolve().parents[1]

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


@dataclass
class Figure:
    """One measured figure and its target.

    Attributes:
        name: stable key, e.g. ``tracking/none``.
        value: the measurement (a ratio or seconds); None when skipped.
        target: the bound the issue sets; None for figures that are only reported.
        op: ``<=`` (value must not exceed target) or ``>=``.
        unit: ``x`` for ratios, ``s``, ``MiB``, ``%``.
        note: how it was measured or why it was skipped.
    """

    name: str
    value: float | None
    target: float | None = None
    op: str = "<="
    unit: str = "x"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """PASS / FAIL against the target, ``info`` without one, ``skipped`` without a value."""
        if self.value is None:
            return "skipped"
        if self.target is None:
            return "info"
        ok = self.value <= self.target if self.op == "<=" else self.value >= self.target
        return "PASS" if ok else "FAIL"

    def line(self) -> str:
        """The console line: name, value, target and verdict."""
        value = "-" if self.value is None else f"{self.value:.3f}{self.unit}"
        target = "" if self.target is None else f"(target {self.op} {self.target:g}{self.unit})"
        return f"{self.name:<22} {value:>12}  {target:<18} {self.verdict:<7} {self.note}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def machine() -> dict[str, Any]:
    """The machine the figures were measured on (absolute times mean nothing without it)."""
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


# ---- running the CLI on a study in a subprocess ---------------------------------------------------------


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
    configs: dict[str, Sequence[str]],
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
        for r in range(repeats):
            shift = r % len(labels)
            for label in labels[shift:] + labels[:shift]:
                if label in before:
                    out[label]["before"].append(before[label]())
                wall, rss = run_study_cli(source, root / f"{label}-{r}", configs[label])
                out[label]["wall_s"].append(wall)
                out[label]["rss_mib"].append(rss)
    return out


# ---- the machine's own two-process ceiling -----------------------------------------------------------


def epochs_per_second(seconds: float, go: Callable[[], None] = lambda: None) -> float:
    """Training epochs per second of CE on digits with the quick preset's fast recipe, one thread, after
    one warm-up epoch; ``go`` is called (and may wait) between the set-up and the timed epochs."""
    import torch

    from benchmark.runs import RunSpec
    from benchmark.training import start_run

    torch.set_num_threads(1)
    spec = RunSpec(
        dataset="digits", noise="sym-excl", rate=0.4, method="ce", seed=0, device="cpu", epochs=1000
    )
    loop = start_run(spec)
    loop.train_epoch(0)
    go()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        loop.train_epoch(n + 1)
        n += 1
    return n / (time.perf_counter() - t0)


def _probe_main(seconds: float) -> None:
    """Child side of :func:`parallel_ceiling`: set up, say ``ready``, wait for a line, train, print."""
    result = epochs_per_second(seconds, go=lambda: (print("ready", flush=True), sys.stdin.readline()))
    print(result, flush=True)


def _probe(processes: int, seconds: float) -> list[float]:
    """Epochs per second of ``processes`` copies of :func:`epochs_per_second` training at the same time."""
    code = f"from benchmark.perf import _probe_main; _probe_main({seconds!r})"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        for _ in range(processes)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("the parallel-ceiling probe failed to start")
        for p in procs:  # all set up: start their timed epochs together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        return [float(p.communicate(timeout=seconds + 120)[0].strip()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def parallel_ceiling(seconds: float = 5.0) -> float:
    """How much more two processes train than one on this machine right now: the summed epochs per second
    of two copies of the same one-thread training over one copy alone. It bounds what ``--workers 2`` can
    gain; on a virtual machine whose cores other tenants share it moves between runs (1.67 to 2.06 here)."""
    solo = _probe(1, seconds)[0]
    return sum(_probe(2, seconds)) / solo


# ---- the figures -----------------------------------------------------------------------------------------


def _load_script(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (a folder of scripts, not a package)."""
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_discrimbench_benchmarks_{name}", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with the repository
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def engine_figures(quick: bool = False) -> list[Figure]:
    """Engine vs a plain loop, and each method's step vs CE (``benchmarks/engine.py``)."""
    engine = _load_script("engine")
    res = engine.run_engine_benchmark(rounds=11 if quick else engine.ROUNDS)
    setup = res["setup"]
    samples = min(res["samples"].values())
    figures = []
    for name, value in res["ratios"].items():
        note = (
            f"{setup['dataset']} {setup['model']} bs {setup['batch_size']}, train phase, median of "
            f"{samples} interleaved epochs (fastest: {res['fastest_ratios'][name]:.3f})"
        )
        details = {k: res[k] for k in ("train_s_per_epoch", "fastest_train_s_per_epoch", "samples")}
        figures.append(Figure(name, float(value), float(res["targets"][name]), "<=", "x", note, details))
    return figures


def scale_figures(quick: bool = False) -> list[Figure]:
    """Each method's step time at N = 1e7 over N = 1e3 and its state's bytes per sample
    (``benchmarks/scale.py``); on CUDA too when a GPU is present."""
    import torch

    scale = _load_script("scale")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    figures = []
    for device in devices:
        res = scale.run_scale_benchmark(rounds=11 if quick else scale.ROUNDS, device=device)
        ns, prefix = res["ns"], "scale" if device == "cpu" else "scale_gpu"
        for name, ratio in res["ratios"].items():
            times = ", ".join(f"{n:.0e}: {res['step_s'][name][n] * 1e3:.3f} ms" for n in ns)
            note = (
                f"{device}, {res['threads']} thread(s), bs {res['batch']}, loss+backward+after_step, "
                f"median of {res['rounds']} interleaved steps ({times})"
            )
            figures.append(Figure(f"{prefix}/{name}", float(ratio), res["target"], "<=", "x", note))
        for name, size in res["bytes_per_sample"].items():
            note = f"{device}: storage of the method's N-long tensors / N"
            figures.append(Figure(f"{prefix}/{name}_state", float(size), None, "<=", "B", note))
    return figures


def run_figures(quick: bool = False) -> list[Figure]:
    """A whole run of each method against a bare training loop (``benchmarks/whole_run.py``)."""
    whole = _load_script("whole_run")
    res = whole.run_whole_run_benchmark(epochs=10 if quick else 40, repeats=1 if quick else 5)
    figures = []
    for name, ratio in res["ratios"].items():
        note = (
            f"{res['dataset']} {res['model']} bs {res['batch_size']}, {res['epochs']} epochs, "
            f"{res['threads']} thread, median of {res['repeats']} interleaved runs "
            f"({res['wall_s'][name]:.2f} s vs bare {res['wall_s']['bare']:.2f} s)"
        )
        figures.append(Figure(f"run/{name}", float(ratio), res["targets"].get(name), "<=", "x", note))
    return figures


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


def _phase_targets(clock: Any) -> list[tuple[Any, str, Any]]:
    """The functions of each phase of a study run, for :class:`benchmark.phase_clock.PhaseClock`."""
    import optuna
    from optuna.storages import BaseStorage, JournalStorage, RDBStorage
    from optuna.storages._cached_storage import _CachedStorage

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
    storages = (JournalStorage, RDBStorage, _CachedStorage, benchmark.tuning.ReconnectingStorage)
    targets += [(cls, k, "tuning storage") for cls in storages for k in api if k in vars(cls)]
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


def gpu_figures(quick: bool = False) -> list[Figure]:
    """CIFAR-10 WRN-28-10 epoch time and GPU utilisation (``benchmarks/gpu.py``); skipped without CUDA."""
    gpu = _load_script("gpu")
    res = gpu.run_gpu_benchmark(steps=20 if quick else None)
    if res.get("skipped"):
        return [Figure("gpu/wrn_epoch", None, None, "<=", "s", res["skipped"])]
    note = f"{res['device']}, bs {res['batch_size']}, synthetic CIFAR-10-shaped data"
    return [
        Figure("gpu/wrn_epoch", res["epoch_s"], None, "<=", "s", note),
        Figure("gpu/utilisation", res["utilisation"], None, "<=", "%", note),
    ]


GROUPS: dict[str, Callable[[bool], list[Figure]]] = {
    "engine": engine_figures,
    "scale": scale_figures,
    "run": run_figures,
    "tracking": tracking_figures,
    "workers": workers_figures,
    "quick": quick_figures,
    "gpu": gpu_figures,
}


def measure(only: Sequence[str] | None = None, quick: bool = False) -> list[Figure]:
    """Measure the chosen groups (all by default), in a fixed order."""
    names = list(GROUPS) if not only else [g for g in GROUPS if g in set(only)]
    figures: list[Figure] = []
    for name in names:
        figures.extend(GROUPS[name](quick))
    return figures
