"""Speed of the training engine, measured side by side in one process (run by hand, not in the tests).

Claims checked (targets from issue 4):
* engine epoch time / a minimal hand-written PyTorch loop's epoch time, same model, data, batch size
  and seed: ≤ 1.15 (training phase; the full epoch with evaluation is printed too, for information);
* each method's training step time / CE's on the same model: gce, superloss, discrimloss ≤ 1.10,
  coteaching ≤ 2.2 (it trains two networks).

Usage::

    python benchmarks/engine.py [--dataset digits] [--model small-cnn] [--epochs 3] [--repeats 5]
        [--device cpu] [--threads 1]

``run_engine_benchmark(...) -> dict`` is the same measurement as a function (for ``discrimbench bench``).
Timings take the minimum over repeats of the per-epoch times after the first (warm-up) epoch (the least
disturbed measurement on a shared machine); configurations are interleaved so that background load hits
all of them alike.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
import torch.nn.functional as F

from benchmark.data import PreparedData, prepare
from benchmark.engine.batching import Inputs, index_batches
from benchmark.engine.device import resolve_device
from benchmark.engine.optim import build_optimizer
from benchmark.engine.recipe import resolve_recipe
from benchmark.models import build_model
from benchmark.registry import load_builtin_components
from benchmark.runs import RunSpec
from benchmark.seeding import seed_streams
from benchmark.training import train_run

__all__ = ["TARGETS", "run_engine_benchmark"]

TARGETS = {
    "engine/plain": 1.15,
    "gce/ce": 1.10,
    "superloss/ce": 1.10,
    "discrimloss/ce": 1.10,
    "coteaching/ce": 2.2,
}
METHODS = ("ce", "gce", "superloss", "discrimloss", "coteaching")


def _plain_epochs(
    data: PreparedData, recipe_overrides: dict[str, Any], epochs: int, device: torch.device
) -> list[float]:
    """A minimal hand-written loop: randperm, forward, mean CE, backward, step. Seconds per epoch."""
    recipe = resolve_recipe(data.recipe, recipe_overrides, epochs)
    torch.manual_seed(seed_streams(0).init)
    n_out = data.num_classes or 1
    model = build_model(recipe.model, data.input_shape, n_out, **recipe.model_kwargs).to(device)
    opt = build_optimizer(recipe, model.parameters())
    x = Inputs(data.train.x, device, recipe.normalize_mean, recipe.normalize_std).x
    y = data.train.y.to(device)
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for idx in index_batches(len(y), recipe.batch_size, gen, device):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        float(loss.detach())  # one sync, as the engine's once-per-epoch read
        times.append(time.perf_counter() - t0)
    return times


def run_engine_benchmark(
    dataset: str = "digits",
    model: str = "small-cnn",
    model_kwargs: dict[str, Any] | None = None,  # default {"width": 16} for small-cnn
    epochs: int = 3,
    repeats: int = 5,
    batch_size: int = 128,
    device: str = "cpu",
    rate: float = 0.4,
) -> dict[str, Any]:
    """Measure the ratios above; returns seconds per epoch per configuration and the ratios vs targets."""
    load_builtin_components()
    dev = resolve_device(device)
    data = prepare(dataset, "sym-excl", rate, 0)
    if model_kwargs is None:
        model_kwargs = {"width": 16} if model == "small-cnn" else {}
    overrides: dict[str, Any] = {"model": model, "batch_size": batch_size, "model_kwargs": model_kwargs}
    train_s: dict[str, list[float]] = {k: [] for k in ("plain", *METHODS)}
    epoch_s: dict[str, list[float]] = {k: [] for k in METHODS}
    for _ in range(repeats):
        train_s["plain"] += _plain_epochs(data, overrides, epochs, dev)[1:]
        for method in METHODS:
            spec = RunSpec(dataset=dataset, noise="sym-excl", rate=rate, method=method, seed=0, device=device,
                           epochs=epochs, recipe=overrides)  # fmt: skip
            result = train_run(spec, data=data)
            train_s[method] += result.extra["train_phase_s"][1:]
            epoch_s[method] += [h["time/epoch_s"] for h in result.history[1:]]
    med = {k: min(v) for k, v in train_s.items()}
    ratios = {"engine/plain": med["ce"] / med["plain"]}
    ratios |= {f"{m}/ce": med[m] / med["ce"] for m in METHODS if m != "ce"}
    return {
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "setup": {
            "dataset": dataset,
            "model": model,
            "batch_size": batch_size,
            "n_train": len(data.train),
            "epochs": epochs,
            "repeats": repeats,
        },
        "train_s_per_epoch": med,
        "full_epoch_s_with_eval": {k: min(v) for k, v in epoch_s.items()},
        "ratios": ratios,
        "targets": TARGETS,
        "meets_targets": {k: ratios[k] <= TARGETS[k] for k in TARGETS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: least load-sensitive)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = run_engine_benchmark(
        args.dataset, args.model, None, args.epochs, args.repeats, args.batch_size, args.device
    )
    print(f"device {out['device']} ({out['threads']} threads), {out['setup']}")
    print("seconds per training epoch (min):")
    for name, value in out["train_s_per_epoch"].items():
        full = out["full_epoch_s_with_eval"].get(name)
        print(f"  {name:<12} {value:8.4f}" + (f"   (with evaluation {full:.4f})" if full else ""))
    print("ratios (target):")
    for name, value in out["ratios"].items():
        ok = "ok" if out["meets_targets"][name] else "MISSED"
        print(f"  {name:<16} {value:6.3f}  (<= {TARGETS[name]})  {ok}")


if __name__ == "__main__":
    main()
