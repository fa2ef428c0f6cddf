"""Step time of each method's per-sample state against the training-set size N (run by hand; ``discrimbench
bench --only scale`` runs the same measurement).

Claim checked (issue 16): the work of one training step is O(batch), so a method's step time at N = 1e7
is within 1.1× of its step time at N = 1e3.

What one step is: ``method.loss`` on fixed logits (B × C, a leaf standing in for the model), the
backward of its objective and ``method.after_step`` — the method's own cost, no model. Indices are
synthetic: one random permutation of N, cut into batches (no dataset needed). For each method, one
instance per N is set up, and each round times one step of every N in an order rotated from round to
round (as the engine benchmark interleaves its epochs); a figure is the median over the rounds after a
warm-up round. Memory per sample is the bytes of the method's N-long tensors divided by N.

Usage::

    python -m benchmark.perf.scale [--ns 1e3 1e5 1e6 1e7] [--rounds 35] [--device cpu] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

from benchmark.method import LossMethod, MethodContext
from benchmark.perf.figure import Figure, rotated_rounds
from benchmark.registry import METHODS, load_builtin_components

__all__ = [
    "METHOD_NAMES",
    "NS",
    "TARGET",
    "main",
    "run_scale_benchmark",
    "scale_figures",
    "state_bytes_per_sample",
]

NS = (1_000, 100_000, 1_000_000, 10_000_000)
METHOD_NAMES = ("ce", "gce", "superloss", "discrimloss", "coteaching")
TARGET = 1.1  # step time at the largest N / at the smallest N
ROUNDS = 35


def state_bytes_per_sample(method: LossMethod, n: int) -> float:
    """Bytes of the storage behind the method's N-long tensors (per-sample state, buffers) per sample."""
    storages = {
        t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
        for t in vars(method).values()
        if isinstance(t, torch.Tensor) and t.dim() >= 1 and t.shape[0] == n
    }
    return sum(storages.values()) / n


def _stepper(name: str, n: int, batch: int, classes: int, dev: torch.device, rounds: int) -> Any:
    """A method instance at size ``n`` and a function running its next step."""
    if n < batch:
        raise ValueError(f"N = {n} is smaller than the batch ({batch})")
    cls = METHODS.get(name)
    ctx = MethodContext(task="classification", num_classes=classes, n_train=n, epochs=10, device=dev,
                        noise_rate=0.4, distinct_rows=True)  # fmt: skip
    method = cls(cls.make_params({}), ctx)
    gen = torch.Generator().manual_seed(n)
    batches: list[torch.Tensor] = []
    while len(batches) < rounds:  # whole batches of epoch permutations, as the engine's (rows distinct)
        batches += list(torch.randperm(n, generator=gen)[: n // batch * batch].to(dev).split(batch))
    logits = [torch.randn(batch, classes, device=dev, requires_grad=True) for _ in range(cls.n_models)]
    targets = torch.randint(0, classes, (batch,), device=dev)
    state = {"i": 0}

    def step() -> None:
        idx = batches[state["i"] % len(batches)]
        state["i"] += 1
        torch.autograd.backward(method.loss(logits, targets, idx, 1).objective())
        method.after_step()

    return method, step


def run_scale_benchmark(
    ns: tuple[int, ...] = NS,
    rounds: int = ROUNDS,
    batch: int = 128,
    classes: int = 10,
    device: str = "cpu",
    threads: int | None = 1,
    methods: tuple[str, ...] = METHOD_NAMES,
) -> dict[str, Any]:
    """Median step seconds per method and N, the ratio largest/smallest N, and bytes per sample.

    Args:
        rounds: timed steps per (method, N), after one warm-up round (at least 1).
        threads: torch CPU threads for the measurement (restored afterwards); None keeps the current.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    load_builtin_components()
    dev = torch.device(device)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    step_s: dict[str, dict[int, float]] = {}
    bytes_per_sample: dict[str, float] = {}
    try:
        for name in methods:
            steppers = {n: _stepper(name, n, batch, classes, dev, rounds + 1) for n in ns}
            bytes_per_sample[name] = state_bytes_per_sample(steppers[ns[-1]][0], ns[-1])
            samples: dict[int, list[float]] = {n: [] for n in ns}
            order = list(ns)
            for r, n in rotated_rounds(order, rounds + 1):
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                t0 = time.perf_counter()
                steppers[n][1]()
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                if r > 0:
                    samples[n].append(time.perf_counter() - t0)
            step_s[name] = {n: statistics.median(v) for n, v in samples.items()}
            del steppers
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    ratios = {m: v[ns[-1]] / v[ns[0]] for m, v in step_s.items()}
    return {
        "device": str(dev), "threads": used, "batch": batch, "classes": classes, "rounds": rounds,
        "ns": list(ns), "step_s": step_s, "ratios": ratios, "bytes_per_sample": bytes_per_sample,
        "target": TARGET,
    }  # fmt: skip


def scale_figures(quick: bool = False) -> list[Figure]:
    """Each method's step time at N = 1e7 over N = 1e3 and its state's bytes per sample
    on CUDA too when a GPU is present."""
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    figures = []
    for device in devices:
        res = run_scale_benchmark(rounds=11 if quick else ROUNDS, device=device)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=float, nargs="+", default=list(NS), help="training-set sizes N")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed steps per method and N")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--methods", nargs="+", default=list(METHOD_NAMES))
    args = parser.parse_args()
    ns = tuple(int(n) for n in args.ns)
    out = run_scale_benchmark(ns, args.rounds, device=args.device, threads=args.threads,
                              methods=tuple(args.methods))  # fmt: skip
    what = "loss + backward + after_step"
    print(f"device {out['device']} ({out['threads']} threads), batch {out['batch']}, "
          f"{out['classes']} classes, median of {out['rounds']} steps ({what})")  # fmt: skip
    head = " ".join(f"{f'N={n:.0e}':>10}" for n in ns)
    print(f"{'method':<12} {head} {'ratio':>7} {'B/sample':>9}")
    for name, row in out["step_s"].items():
        cells = " ".join(f"{row[n] * 1e3:9.3f}m" for n in ns)
        print(f"{name:<12} {cells} {out['ratios'][name]:7.2f} {out['bytes_per_sample'][name]:9.1f}")


if __name__ == "__main__":
    main()
