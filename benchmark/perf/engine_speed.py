"""Speed of the training engine, measured side by side in one process (run by hand, not in the tests).

Claims checked (targets from issues 4 and 16):
* engine epoch time / a minimal hand-written PyTorch loop's epoch time, same model, data, batch size
  and seed: ≤ 1.15 (training phase);
* each method's training step time / CE's on the same model: gce, superloss, discrimloss ≤ 1.05,
  coteaching ≤ 2.05 (it trains two networks).

Usage::

    python -m benchmark.perf.engine_speed [--dataset digits] [--model small-cnn] [--rounds 61] [--device cpu]
        [--threads 1]

``run_engine_benchmark(...) -> dict`` is the same measurement as a function (for ``discrimbench bench``);
``benchmarks/engine.py`` is a thin script that runs :func:`main`.

How: every configuration is set up ``instances`` times (the engine's own
:func:`benchmark.training.start_run` for the methods, a hand-written loop for ``plain``; the copies train
the same seed, so they compute the same thing); then each round trains one epoch of every copy, in an
order rotated from round to round, and times it. The first round is a warm-up. A figure is the ratio of
the two configurations' median epoch times, each median over all its copies' epochs. Copies matter: two
copies of one configuration in one process differ by up to 1 % here (where their tensors lie in memory),
which a single copy would count for or against its method. Interleaving epoch by epoch matters on a
shared virtual machine: the same 12 training steps took anywhere between 11 and 18 ms from one tenth of a
second to the next here, so configurations timed one after the other (whole runs in turn) differed by
±10 % from one invocation to the next; interleaved, every configuration sees the same mixture of fast and
slow moments.
The ratio of the fastest epochs is reported beside it, for information. One torch thread, the least
load-sensitive setting for these small models.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmark.data import prepare
from benchmark.engine.device import resolve_device
from benchmark.engine.reference_loop import plain_loop
from benchmark.perf.figure import Figure, rotated_rounds
from benchmark.runs import RunSpec
from benchmark.training import start_run

__all__ = ["INSTANCES", "METHODS", "ROUNDS", "TARGETS", "engine_figures", "main", "run_engine_benchmark"]

TARGETS = {
    "engine/plain": 1.15,
    "gce/ce": 1.05,
    "superloss/ce": 1.05,
    "discrimloss/ce": 1.05,
    "coteaching/ce": 2.05,
}
METHODS = ("ce", "gce", "superloss", "discrimloss", "coteaching")
ROUNDS = 41  # interleaved epochs of every copy, the first a warm-up
INSTANCES = 2  # copies of every configuration, set up in the same process


def run_engine_benchmark(
    dataset: str = "digits",
    model: str = "small-cnn",
    model_kwargs: dict[str, Any] | None = None,  # default {"width": 16} for small-cnn
    rounds: int = ROUNDS,
    batch_size: int = 128,
    device: str = "cpu",
    rate: float = 0.4,
    threads: int | None = 1,
    instances: int = INSTANCES,
) -> dict[str, Any]:
    """Measure the ratios above; returns seconds per epoch per configuration and the ratios vs targets.

    Args:
        rounds: epochs of every copy, interleaved; the first is a warm-up (at least 2).
        threads: torch CPU threads for the measurement (restored afterwards); None keeps the current.
        instances: copies of every configuration (at least 1).
    """
    if rounds < 2:
        raise ValueError(f"rounds must be at least 2 (the first is a warm-up), got {rounds}")
    if instances < 1:
        raise ValueError(f"instances must be at least 1, got {instances}")
    dev = resolve_device(device)
    data = prepare(dataset, "sym-excl", rate, 0)
    if model_kwargs is None:
        model_kwargs = {"width": 16} if model == "small-cnn" else {}
    overrides: dict[str, Any] = {"model": model, "batch_size": batch_size, "model_kwargs": model_kwargs}
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        epochs: dict[tuple[str, int], Callable[[int], float]] = {}
        for copy in range(instances):
            epochs["plain", copy] = plain_loop(data, overrides, rounds, dev)
            for method in METHODS:
                spec = RunSpec(dataset=dataset, noise="sym-excl", rate=rate, method=method, seed=0,
                               device=device, epochs=rounds, recipe=overrides)  # fmt: skip
                epochs[method, copy] = start_run(spec, data=data).train_epoch
        samples: dict[str, list[float]] = {name: [] for name, _ in epochs}
        for r, key in rotated_rounds(list(epochs), rounds):
            t0 = time.perf_counter()
            epochs[key](r)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if r > 0:
                samples[key[0]].append(time.perf_counter() - t0)
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous_threads)
    pairs = {"engine/plain": ("ce", "plain")} | {f"{m}/ce": (m, "ce") for m in METHODS if m != "ce"}
    median = {k: statistics.median(v) for k, v in samples.items()}
    fastest = {k: min(v) for k, v in samples.items()}
    ratios = {k: median[a] / median[b] for k, (a, b) in pairs.items()}
    return {
        "device": str(dev),
        "threads": used_threads,
        "setup": {
            "dataset": dataset,
            "model": model,
            "batch_size": batch_size,
            "n_train": len(data.train),
            "rounds": rounds,
            "instances": instances,
        },
        "samples": {k: len(v) for k, v in samples.items()},
        "train_s_per_epoch": median,
        "fastest_train_s_per_epoch": fastest,
        "ratios": ratios,
        "fastest_ratios": {k: fastest[a] / fastest[b] for k, (a, b) in pairs.items()},
        "targets": TARGETS,
        "meets_targets": {k: ratios[k] <= TARGETS[k] for k in TARGETS},
    }


def engine_figures(quick: bool = False) -> list[Figure]:
    """Engine vs a plain loop, and each method's step vs CE."""
    res = run_engine_benchmark(rounds=11 if quick else ROUNDS)
    setup = res["setup"]
    samples = min(res["samples"].values())
    figures = []
    for name, value in res["ratios"].items():
        note = (
            f"{setup['dataset']} {setup['model']} bs {setup['batch_size']}, train phase, median of "
            f"{samples} interleaved epochs of {setup['instances']} copies (fastest: "
            f"{res['fastest_ratios'][name]:.3f})"
        )
        details = {k: res[k] for k in ("train_s_per_epoch", "fastest_train_s_per_epoch", "samples")}
        figures.append(Figure(name, float(value), float(res["targets"][name]), "<=", "x", note, details))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved epochs (the first: warm-up)")
    parser.add_argument("--instances", type=int, default=INSTANCES, help="copies of every configuration")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: least load-sensitive)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    out = run_engine_benchmark(
        args.dataset,
        args.model,
        None,
        args.rounds,
        args.batch_size,
        args.device,
        threads=args.threads,
        instances=args.instances,
    )
    print(f"device {out['device']} ({out['threads']} threads), {out['setup']}")
    print("seconds per training epoch, median (fastest):")
    for name, value in out["train_s_per_epoch"].items():
        print(f"  {name:<12} {value:8.4f} ({out['fastest_train_s_per_epoch'][name]:.4f})")
    print("ratios of the medians (of the fastest epochs) (target):")
    for name, value in out["ratios"].items():
        ok = "ok" if out["meets_targets"][name] else "MISSED"
        print(f"  {name:<16} {value:6.3f} ({out['fastest_ratios'][name]:.3f})  (<= {TARGETS[name]})  {ok}")


if __name__ == "__main__":
    main()
