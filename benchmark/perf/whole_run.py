"""A whole run (``train_run``: training, per-epoch evaluation, bookkeeping, summary) against a bare training
loop of the same model and batches, measured in one process (run by hand; ``discrimbench bench --only run``
runs the same measurement).

Claim checked (issue 16): a whole CE run takes at most 1.15× the bare loop, with every output kept. The
other methods are reported beside it (Co-teaching trains two networks: its floor is 2×).

How: digits, the dataset's own recipe (MLP) for 40 epochs, one torch thread. The bare loop builds the same
model and optimiser, normalises the inputs once and, each epoch, draws the engine's shuffled batches and
runs forward, mean CE, backward and the optimiser step, reading the loss once per epoch; nothing else
(no evaluation, no schedule). Data are prepared once, outside every timing. Each round runs every
configuration once in an order rotated from round to round; a figure is the ratio of the medians.

Usage::

    python -m benchmark.perf.whole_run [--epochs 40] [--repeats 5] [--methods ce gce ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

from benchmark.data import PreparedData, prepare
from benchmark.engine.device import keep_freed_memory
from benchmark.engine.reference_loop import plain_loop
from benchmark.perf.figure import Figure, rotated_rounds
from benchmark.runs import RunSpec
from benchmark.training import train_run

__all__ = ["METHOD_NAMES", "TARGETS", "bare_run", "main", "run_figures", "run_whole_run_benchmark"]

METHOD_NAMES = ("ce", "gce", "superloss", "discrimloss", "coteaching")
TARGETS = {"ce": 1.15}  # the others are reported without a target


def bare_run(data: PreparedData, epochs: int) -> float:
    """Train the dataset's recipe model for ``epochs`` in the bare loop; returns the last epoch's loss."""
    train_epoch = plain_loop(data, {}, epochs, torch.device("cpu"))
    loss = 0.0
    for epoch in range(epochs):
        loss = train_epoch(epoch)
    return loss


def run_whole_run_benchmark(
    dataset: str = "digits",
    epochs: int = 40,
    repeats: int = 5,
    methods: tuple[str, ...] = METHOD_NAMES,
    rate: float = 0.4,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Median wall seconds of a whole run per method and of the bare loop, and their ratios.

    Args:
        repeats: rounds; each runs every configuration once (at least 1).
        threads: torch CPU threads (restored afterwards); None keeps the current.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    data = prepare(dataset, "sym-excl", rate, 0)
    keep_freed_memory()  # the engine sets this once per process; the bare loop gets it from the start
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    configs: dict[str, Any] = {"bare": lambda: bare_run(data, epochs)}
    for method in methods:
        spec = RunSpec(dataset=dataset, noise="sym-excl", rate=rate, method=method, seed=0,
                       device="cpu", epochs=epochs)  # fmt: skip
        configs[method] = lambda spec=spec: train_run(spec, data=data)
    samples: dict[str, list[float]] = {k: [] for k in configs}
    names = list(configs)
    try:
        configs["bare"]()  # warm-up: imports, allocator, first-call costs
        for _, name in rotated_rounds(names, repeats):
            t0 = time.perf_counter()
            configs[name]()
            samples[name].append(time.perf_counter() - t0)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    median = {k: statistics.median(v) for k, v in samples.items()}
    ratios = {m: median[m] / median["bare"] for m in methods}
    return {
        "threads": used, "dataset": dataset, "epochs": epochs, "repeats": repeats,
        "n_train": len(data.train), "batch_size": data.recipe.batch_size, "model": data.recipe.model,
        "wall_s": median, "ratios": ratios, "targets": {k: v for k, v in TARGETS.items() if k in ratios},
    }  # fmt: skip


def run_figures(quick: bool = False) -> list[Figure]:
    """A whole run of each method against a bare training loop."""
    res = run_whole_run_benchmark(epochs=10 if quick else 40, repeats=1 if quick else 5)
    figures = []
    for name, ratio in res["ratios"].items():
        note = (
            f"{res['dataset']} {res['model']} bs {res['batch_size']}, {res['epochs']} epochs, "
            f"{res['threads']} thread, median of {res['repeats']} interleaved runs "
            f"({res['wall_s'][name]:.2f} s vs bare {res['wall_s']['bare']:.2f} s)"
        )
        figures.append(Figure(f"run/{name}", float(ratio), res["targets"].get(name), "<=", "x", note))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHOD_NAMES))
    args = parser.parse_args()
    out = run_whole_run_benchmark(args.dataset, args.epochs, args.repeats, tuple(args.methods))
    print(f"{out['dataset']} {out['model']} bs {out['batch_size']}, {out['epochs']} epochs, "
          f"{out['threads']} thread(s), median of {out['repeats']} interleaved runs")  # fmt: skip
    print(f"  {'bare':<12} {out['wall_s']['bare']:7.3f} s")
    for name, ratio in out["ratios"].items():
        target = f"(<= {TARGETS[name]})" if name in TARGETS else ""
        print(f"  {name:<12} {out['wall_s'][name]:7.3f} s  {ratio:5.2f}x {target}")


if __name__ == "__main__":
    main()
