"""Trace SuperLoss on a regression dataset step by step: τ, the σ* distribution, and the head's pre-ReLU
outputs, to see why its `ema` preset ends predicting 0 on DigitSum (docs/recipes.md section 5).

Usage::

    python benchmarks/superloss_regression.py [--dataset digitsum] [--epochs 2] [--set lam=1 ...]
        [--method superloss|ce] [--every 10]

Each printed row is one optimiser step of the engine's own training loop (clean data, the dataset's `fast`
recipe): τ, the batch's mean MSE, σ* quantiles, the share of samples with σ* ≥ 1 (ℓ ≤ τ) and
σ* < 0.05, the σ*-weighted mean target (what the weighted regression pulls towards) beside the plain mean
target, the mean pre-ReLU output, the share of the batch whose pre-ReLU output is positive (the only samples
that pass a gradient), and the net pull d objective / d prediction summed over those samples (> 0: the
step pushes the predictions down). At each epoch's end: the share of validation strings with a positive
pre-ReLU output and the validation MAE.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import torch

from benchmark.registry import load_builtin_components
from benchmark.runs import RunSpec
from benchmark.training import start_run


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def trace(
    dataset: str, method: str, params: dict[str, Any], epochs: int, every: int, seed: int = 1
) -> list[dict[str, float]]:
    """Per-step rows (every ``every``-th step, and all of the first 20) and per-epoch rows of one run."""
    torch.set_num_threads(1)
    load_builtin_components()
    spec = RunSpec(dataset=dataset, noise="permute-block", rate=0.0, method=method, seed=seed, device="cpu",
                   epochs=epochs, params=params)  # fmt: skip
    loop = start_run(spec)
    model = loop.models[0]
    pre: list[torch.Tensor] = []
    model.head.register_forward_hook(
        lambda m, i, out: pre.append(out.detach().reshape(-1) * model.output_scale)
    )
    rows: list[dict[str, float]] = []
    step = [0]
    inner = loop.method.loss

    def loss(outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int) -> Any:
        out = inner(outputs, targets, idx, epoch)
        s = step[0]
        step[0] += 1
        if s >= 20 and s % every:
            return out
        z = pre[-1]
        pred = outputs[0].detach().reshape(-1)
        y = targets.double()
        ell = (pred - targets).double() ** 2
        tau = getattr(loop.method, "tau", None)
        sigma = loop.method.sample_weights()[idx].double() if tau is not None else torch.ones_like(ell)
        alive = z > 0
        pull = (sigma * 2.0 * (pred.double() - y) * alive).sum() / len(y)
        rows.append({
            "step": s, "epoch": epoch, "tau": float(tau) if tau is not None else float("nan"),
            "mse": float(ell.mean()), "sigma_min": float(sigma.min()), "sigma_med": float(sigma.median()),
            "sigma_max": float(sigma.max()), "share_sigma_ge1": float((sigma >= 1).double().mean()),
            "share_sigma_lt005": float((sigma < 0.05).double().mean()),
            "target_mean": float(y.mean()), "target_weighted": float((sigma * y).sum() / sigma.sum()),
            "pre_mean": float(z.mean()), "alive": float(alive.double().mean()), "pull": float(pull),
        })  # fmt: skip
        print(" ".join(f"{k} {v:.4g}" for k, v in rows[-1].items()), flush=True)
        return out

    loop.method.loss = loss  # type: ignore[method-assign]

    def on_epoch(epoch: int, row: dict[str, float]) -> None:
        pre.clear()
        model.eval()
        with torch.no_grad():
            for _, x in loop.val_x.eval_batches(512):
                model(x)
        model.train()
        z = torch.cat(pre)
        pre.clear()
        rows.append({"epoch_end": epoch, "val_alive": float((z > 0).double().mean()),
                     "val_pre_max": float(z.max()), "val_mae": row["val/mae"]})  # fmt: skip
        print(" ".join(f"{k} {v:.4g}" for k, v in rows[-1].items()), flush=True)

    loop.run("noisy-val", on_epoch, False)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digitsum")
    parser.add_argument("--method", default="superloss")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", type=int, default=10, help="print every n-th step after the first 20")
    parser.add_argument("--set", nargs="*", default=["tau_mode=ema"], help="method params, key=value")
    args = parser.parse_args(argv)
    params = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
    trace(args.dataset, args.method, params, args.epochs, args.every, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
