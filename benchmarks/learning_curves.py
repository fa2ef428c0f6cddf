"""Learning curves of the five methods on clean data, the method-neutral choice of each embedded dataset's
`fast` budget, and the table of the methods under the chosen recipes (docs/recipes.md).

Usage::

    python benchmarks/learning_curves.py curves [--datasets digits mnist1d ...] [--img docs/img]
    python benchmarks/learning_curves.py table [--datasets ...] [--seeds 1 2 3 4 5] [--rates 0 0.4 0.6]
        [--md docs/recipes.md]

``curves``: for each dataset, the epochs E of the `fast` recipe are the smallest E in :data:`EPOCH_GRID` such
that, trained on clean data (seed 1) with the dataset's recipe and every method's defaults, each of the five
methods has (1) plateaued by mid-run: the best 3-epoch running mean of the clean validation metric in the
second half of the run beats that of the first half by at most :data:`TOLERANCE` (the clean training
metric is plotted, not judged: on synthetic-hard it keeps climbing by memorising Bayes-ambiguous samples);
and (2) run its own schedule to the end inside the first half: Co-teaching's R(T) ramp (T_k epochs) and
DiscrimLoss's early suppression (sup_eps) end, and DiscrimLoss's γ switch q = round(0.5·E) lies inside the
run. It never looks at noisy data or at which method scores best. It prints the chosen E beside the shipped
recipe's and saves a figure per dataset (clean training and validation metric per epoch, one panel per
method).

``table``: every method at each noise rate under the shipped `fast` recipe, mean ± std over seeds of the
test metric at the last epoch and at the best noisy-validation epoch, and the weight AUROC (corrupted vs
clean, last epoch; "—" where the method has no weights, the weights are constant, or nothing is corrupted).
With ``--md`` the table replaces the part of that file between ``<!-- table:start -->`` and
``<!-- table:end -->``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.data import get_adapter
from benchmark.registry import METHODS as METHOD_REGISTRY
from benchmark.registry import load_builtin_components
from benchmark.runs import RunResult, RunSpec
from benchmark.training import start_run, train_run

DATASETS = ("digits", "mnist1d", "synthetic-hard", "digitsum")
METHODS = ("ce", "gce", "superloss", "coteaching", "discrimloss")
EPOCH_GRID = (10, 20, 30, 40, 60, 80)
# Allowed second-half gain of the clean validation metric: accuracy points or relative MAE. The validation
# sets are small (digits: 144 images, one image = 0.7 points).
TOLERANCE = {"acc": 2.0, "mae": 0.05}
NOISE = {"digitsum": "permute-block"}  # the paper's DigitSum noise; sym-excl elsewhere
TABLE_START, TABLE_END = "<!-- table:start -->", "<!-- table:end -->"


def noise_of(dataset: str) -> str:
    return NOISE.get(dataset, "sym-excl")


# ---- curves ---------------------------------------------------------------------------------------


@torch.no_grad()
def _train_metric(loop: Any) -> float:
    """Model 0's metric on the whole non-augmented training set against the clean targets."""
    model = loop.models[0]
    model.eval()
    out = torch.cat([model(x) for _, x in loop.train_plain.eval_batches(loop.recipe.eval_batch_size)])
    model.train()
    y = loop.y_train_clean
    if loop.metric == "acc":
        return float((out.argmax(dim=1) == y).double().mean() * 100.0)
    return float((out.reshape(-1) - y).abs().double().mean())


def clean_curve(dataset: str, method: str, epochs: int, seed: int = 1) -> dict[str, Any]:
    """Per-epoch clean training and validation metric of one clean-data run."""
    spec = RunSpec(dataset=dataset, noise=noise_of(dataset), rate=0.0, method=method, seed=seed,
                   device="cpu", epochs=epochs)  # fmt: skip
    loop = start_run(spec)
    train: list[float] = []
    t0 = time.process_time()
    result = loop.run("noisy-val", lambda e, row: train.append(_train_metric(loop)), False)
    m = result.metric
    return {
        "metric": m,
        "train": train,
        "val": [row[f"val/{m}"] for row in result.history],
        "test": [row[f"test/{m}"] for row in result.history],
        "seconds": time.process_time() - t0,
        "status": result.status,
        "params": result.extra.get("method_params", {}),
    }


def _smooth(values: Sequence[float], width: int = 3) -> list[float]:
    return [statistics.fmean(values[max(0, i - width + 1) : i + 1]) for i in range(len(values))]


def plateau_gain(values: Sequence[float], metric: str) -> float:
    """How much the second half of the run improves on the first (3-epoch running mean; MAE relative)."""
    s = _smooth(values)
    half = len(s) // 2
    first, second = s[:half], s[half:]
    if metric == "acc":
        return max(second) - max(first)
    return (min(first) - min(second)) / max(min(first), 1e-12)


def schedule_ends(method: str, params: dict[str, Any], epochs: int) -> bool:
    """Whether the method's own schedule has run to the end by mid-run (γ switch inside the run)."""
    half = epochs // 2
    if method == "coteaching":
        return int(params.get("num_gradual", 10)) <= half
    if method == "discrimloss":
        q = params.get("q")
        q = round(0.5 * epochs) if q is None else q
        return int(params.get("sup_eps", 3)) <= half and 0 < q < epochs
    if method == "gce" and params.get("truncated"):
        return int(params.get("prune_start", 40)) < epochs
    return True


def choose_epochs(
    dataset: str, log: list[str], grid: Sequence[int] = EPOCH_GRID
) -> tuple[int | None, dict[str, dict[str, Any]]]:
    """The smallest E of ``grid`` passing both checks for every method, with that E's curves."""
    curves: dict[str, dict[str, Any]] = {}
    defaults = {m: METHOD_REGISTRY.get(m).make_params({}).model_dump() for m in METHODS}
    for epochs in grid:
        late = [m for m in METHODS if not schedule_ends(m, defaults[m], epochs)]
        if late:  # decided without training
            log.append(f"{dataset} E={epochs}: the schedules of {', '.join(late)} do not end by mid-run")
            print(log[-1], flush=True)
            continue
        curves = {m: clean_curve(dataset, m, epochs) for m in METHODS}
        ok = True
        for method, c in curves.items():
            gains = {part: plateau_gain(c[part], c["metric"]) for part in ("train", "val")}
            flat = gains["val"] <= TOLERANCE[c["metric"]]
            passed = c["status"] == "ok" and flat and schedule_ends(method, c["params"], epochs)
            ok &= passed
            log.append(f"{dataset} E={epochs} {method}: second-half gain train {gains['train']:.3g} / val "
                       f"{gains['val']:.3g}, final train {c['train'][-1]:.2f} / val {c['val'][-1]:.2f}, "
                       f"{c['seconds']:.1f} CPU s -> {'pass' if passed else 'FAIL'}")  # fmt: skip
            print(log[-1], flush=True)
        if ok:
            return epochs, curves
    return None, curves


def plot_curves(dataset: str, epochs: int | None, curves: dict[str, dict[str, Any]], folder: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(2.3 * len(curves), 2.2), sharey=True, dpi=80)
    for ax, (method, c) in zip(axes, curves.items(), strict=True):
        x = range(len(c["val"]))
        ax.plot(x, c["train"], label="train (clean)", lw=1.2)
        ax.plot(x, c["val"], label="val (clean)", lw=1.2)
        ax.axvline(len(c["val"]) // 2, color="grey", ls=":", lw=0.8)
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("accuracy %" if next(iter(curves.values()))["metric"] == "acc" else "MAE", fontsize=8)
    axes[0].legend(fontsize=6)
    fig.suptitle(f"{dataset}: clean data, fast recipe, E = {epochs} (dotted: mid-run)", fontsize=9)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"curves-{dataset}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


# ---- table ----------------------------------------------------------------------------------------


def weight_auroc(result: RunResult) -> float:
    """The last epoch's weight AUROC, NaN where it means nothing (no, constant or collapsed weights)."""
    w = result.sample_weights
    if w is None or np.ptp(np.asarray(w, dtype=np.float64)) < 1e-6:
        return math.nan
    return float(result.auroc_noisy_clean)


def _fmt(values: Sequence[float], digits: int = 1) -> str:
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return "—"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"  # one seed: no spread to show
    return f"{statistics.fmean(vals):.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def table(datasets: Sequence[str], rates: Sequence[float], seeds: Sequence[int]) -> str:
    lines: list[str] = []
    for dataset in datasets:
        recipe = get_adapter(dataset).fast_recipe()
        t0 = time.process_time()
        rows: list[str] = []
        metric = "acc"
        for method in METHODS:
            for rate in rates:
                noise = noise_of(dataset)
                specs = [
                    RunSpec(dataset=dataset, noise=noise, rate=rate, method=method, seed=s) for s in seeds
                ]
                runs = [train_run(spec) for spec in specs]
                metric = runs[0].metric
                aurocs = [weight_auroc(r) for r in runs]
                rows.append(
                    f"| {method} | {rate:g} | {_fmt([r.test_last for r in runs])} | "
                    f"{_fmt([r.test_best_val for r in runs])} | {_fmt(aurocs, 3)} |"
                )
                print(rows[-1], flush=True)
        unit = "test accuracy %" if metric == "acc" else "test MAE"
        lines += [
            f"**{dataset}** ({noise_of(dataset)}; recipe: {recipe.model}, {recipe.optimizer} "
            f"lr {recipe.lr:g}, batch {recipe.batch_size}, {recipe.epochs} epochs, {recipe.schedule}; seeds "
            f"{', '.join(map(str, seeds))}; {time.process_time() - t0:.0f} CPU s, one torch thread)",
            "",
            f"| method | rate | {unit}, last epoch | {unit}, best noisy-val epoch | weight AUROC |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    return "\n".join(lines)


def _replace_between(path: Path, text: str) -> None:
    doc = path.read_text()
    head, sep, rest = doc.partition(TABLE_START)
    _, sep2, tail = rest.partition(TABLE_END)
    if not sep or not sep2:
        raise SystemExit(f"{path} has no {TABLE_START} ... {TABLE_END} block")
    path.write_text(f"{head}{TABLE_START}\n{text}\n{TABLE_END}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("curves", "table"))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--img", default="docs/img", help="folder of the learning-curve figures")
    parser.add_argument(
        "--grid", nargs="+", type=int, default=list(EPOCH_GRID), help="candidate epochs (to resume a search)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.0, 0.4, 0.6])
    parser.add_argument("--md", default=None, help="markdown file whose table block is replaced")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_builtin_components()
    if args.mode == "curves":
        log: list[str] = []
        for dataset in args.datasets:
            epochs, curves = choose_epochs(dataset, log, sorted(args.grid))
            shipped = get_adapter(dataset).fast_recipe().epochs
            path = plot_curves(dataset, epochs, curves, Path(args.img))
            print(f"== {dataset}: chosen E = {epochs}, shipped fast recipe E = {shipped}; figure {path}")
        return 0
    text = table(args.datasets, args.rates, args.seeds)
    if args.md:
        _replace_between(Path(args.md), text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
