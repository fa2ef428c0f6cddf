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
run; (3) its final clean validation metric beats the constant predictor's. A method whose model never
changes its predictions (:func:`stuck`: one value of the metric in every epoch, no better than the constant
predictor) cannot be helped by any budget: it is logged as STUCK, marked in the figure and left out of the
choice instead of blocking it. It never looks at noisy data or at which method scores best. It prints the
chosen E beside the shipped recipe's and saves a figure per dataset (clean training and validation metric
per epoch, one panel per method).

``table``: every method at each noise rate under the shipped `fast` recipe, mean ± std over seeds of the
test metric at the last epoch and at the best noisy-validation epoch, and the weight AUROC (corrupted vs
clean, last epoch; "—" where the method has no weights, the weights are constant, or nothing is corrupted).
With ``--md`` the table replaces the part of that file between ``<!-- table:start -->`` and
``<!-- table:end -->``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, NamedTuple

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
TABLE_END = "<!-- table:end -->"  # new per-dataset blocks go before it


# SuperLoss's default τ (ln C) exists for classification only; on a regression task it runs its `ema`
# preset (τ an EMA of the batch losses), the one built-in preset that needs no dataset-specific τ.
REGRESSION_PARAMS: dict[str, dict[str, Any]] = {"superloss": {"tau_mode": "ema"}}


def noise_of(dataset: str) -> str:
    return NOISE.get(dataset, "sym-excl")


def methods_for(dataset: str) -> list[str]:
    """The five methods that support the dataset's task (GCE and Co-teaching are classification-only)."""
    task = get_adapter(dataset).task
    return [m for m in METHODS if task in METHOD_REGISTRY.get(m).tasks]


def params_for(dataset: str, method: str) -> dict[str, Any]:
    """The method's defaults, but for the regression exceptions of :data:`REGRESSION_PARAMS`."""
    return dict(REGRESSION_PARAMS.get(method, {})) if get_adapter(dataset).task == "regression" else {}


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
    torch.set_num_threads(1)
    load_builtin_components()
    spec = RunSpec(dataset=dataset, noise=noise_of(dataset), rate=0.0, method=method, seed=seed,
                   device="cpu", epochs=epochs, params=params_for(dataset, method))  # fmt: skip
    loop = start_run(spec)
    train: list[float] = []
    t0 = time.process_time()
    result = loop.run("noisy-val", lambda e, row: train.append(_train_metric(loop)), False)
    m = result.metric
    return {
        "metric": m,
        "constant_val": constant_predictor_val(loop),
        "train": train,
        "val": [row[f"val/{m}"] for row in result.history],
        "test": [row[f"test/{m}"] for row in result.history],
        "seconds": time.process_time() - t0,
        "status": result.status,
        "params": result.extra.get("method_params", {}),
    }


def constant_predictor_val(loop: Any) -> float:
    """The validation metric of the best input-blind predictor a model could settle on: the training
    set's most frequent class (accuracy), or its mean target (MAE), as in docs/recipes.md section 5."""
    y_train, y_val = loop.y_train.double(), loop.y_val.double()
    if loop.metric == "acc":
        return float((y_val == torch.mode(y_train).values).double().mean() * 100.0)
    return float((y_val - y_train.mean()).abs().mean())


def beats_constant(curve: dict[str, Any]) -> bool:
    """The final validation metric is better than the constant predictor's: a flat curve of a model that
    predicts one value is no plateau (SuperLoss's `ema` τ on DigitSum predicted 0, gain 0)."""
    last, constant = curve["val"][-1], curve["constant_val"]
    return bool(last > constant) if curve["metric"] == "acc" else bool(last < constant)


def stuck(curve: dict[str, Any]) -> bool:
    """The model never changed what it predicts: its clean training and validation metrics are one value
    in every epoch, no better than the constant predictor's. A ReLU regressor whose output fell below zero
    for every input passes no gradient to any parameter, so no budget can change it (SuperLoss's `ema` τ on
    DigitSum, seed 1, docs/recipes.md section 5); such a method is reported, not used to choose E."""
    flat = all(min(c) == max(c) for c in (curve["train"], curve["val"]))
    return flat and not beats_constant(curve)


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


def _curves(dataset: str, epochs: int, jobs: int) -> dict[str, dict[str, Any]]:
    """The clean curves of every method of the dataset, ``jobs`` processes at a time."""
    methods = methods_for(dataset)
    if jobs <= 1:
        return {m: clean_curve(dataset, m, epochs) for m in methods}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {m: pool.submit(clean_curve, dataset, m, epochs) for m in methods}
        return {m: f.result() for m, f in futures.items()}


def choose_epochs(
    dataset: str, log: list[str], grid: Sequence[int] = EPOCH_GRID, jobs: int = 1
) -> tuple[int | None, dict[str, dict[str, Any]]]:
    """The smallest E of ``grid`` passing both checks for every method, with that E's curves.

    A :func:`stuck` method is logged as such and left out of the choice (at least one method must be
    judged); a method that learns but has not beaten the constant predictor yet still fails the E.
    """
    curves: dict[str, dict[str, Any]] = {}
    methods = methods_for(dataset)
    defaults = {m: METHOD_REGISTRY.get(m).make_params(params_for(dataset, m)).model_dump() for m in methods}
    for epochs in grid:
        late = [m for m in methods if not schedule_ends(m, defaults[m], epochs)]
        if late:  # decided without training
            log.append(f"{dataset} E={epochs}: the schedules of {', '.join(late)} do not end by mid-run")
            print(log[-1], flush=True)
            continue
        curves = _curves(dataset, epochs, jobs)
        ok, judged = True, 0
        for method, c in curves.items():
            gains = {part: plateau_gain(c[part], c["metric"]) for part in ("train", "val")}
            flat = gains["val"] <= TOLERANCE[c["metric"]]
            learns = beats_constant(c)
            passed = c["status"] == "ok" and flat and learns and schedule_ends(method, c["params"], epochs)
            dead = c["status"] == "ok" and stuck(c)
            ok &= passed or dead
            judged += not dead
            verdict = "STUCK (one prediction in every epoch: reported, not judged)" if dead else (
                "pass" if passed else "FAIL")  # fmt: skip
            log.append(f"{dataset} E={epochs} {method}: second-half gain train {gains['train']:.3g} / val "
                       f"{gains['val']:.3g}, final train {c['train'][-1]:.2f} / val {c['val'][-1]:.2f}, "
                       f"(constant predictor {c['constant_val']:.2f}{'' if learns else ': not beaten'}), "
                       f"{c['seconds']:.1f} CPU s -> {verdict}")  # fmt: skip
            print(log[-1], flush=True)
        if ok and judged:
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
        ax.axhline(c["constant_val"], color="black", ls="--", lw=0.6, label="constant predictor (val)")
        ax.axvline(len(c["val"]) // 2, color="grey", ls=":", lw=0.8)
        if c["metric"] == "mae":  # from 90 (a dead output) down to 2: only a log axis shows both
            ax.set_yscale("log")
        ax.set_title(f"{method} (stuck)" if stuck(c) else method, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("accuracy %" if next(iter(curves.values()))["metric"] == "acc" else "MAE", fontsize=8)
    axes[0].legend(fontsize=6)
    fig.suptitle(f"{dataset}: clean data, fast recipe, E = {epochs} (dotted: mid-run; dashed: constant "
                 "predictor)", fontsize=9)  # fmt: skip
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


class Cell(NamedTuple):
    """One run of the table: what it is and what it measured."""

    dataset: str
    method: str
    rate: float
    seed: int
    metric: str = ""
    test_last: float = math.nan
    test_best_val: float = math.nan
    auroc: float = math.nan
    cpu_seconds: float = 0.0


def _run_cell(cell: Cell) -> Cell:
    """Train one run in this (worker) process with one torch thread; CPU seconds of this process."""
    torch.set_num_threads(1)
    load_builtin_components()
    t0 = time.process_time()
    spec = RunSpec(dataset=cell.dataset, noise=noise_of(cell.dataset), rate=cell.rate, method=cell.method,
                   seed=cell.seed, device="cpu", params=params_for(cell.dataset, cell.method))  # fmt: skip
    result = train_run(spec)
    return cell._replace(metric=result.metric, test_last=result.test_last,
                   test_best_val=result.test_best_val, auroc=weight_auroc(result),
                   cpu_seconds=time.process_time() - t0)  # fmt: skip


def run_cells(cells: Sequence[Cell], jobs: int, log: Path | None = None) -> list[Cell]:
    """Every cell, ``jobs`` worker processes at a time (each one torch thread); results in input order.

    Each finished cell is appended to ``log`` (JSON lines) at once, so an interrupted table keeps what ran.
    """

    def record(c: Cell) -> None:
        print(f"done {c.dataset} {c.method} rate {c.rate:g} seed {c.seed}: {c.test_last:.2f} "
              f"({c.cpu_seconds:.0f} CPU s)", flush=True)  # fmt: skip
        if log is not None:
            with log.open("a") as f:
                f.write(json.dumps(c._asdict()) + "\n")

    if jobs <= 1:
        out = []
        for c in cells:
            out.append(_run_cell(c))
            record(out[-1])
        return out
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_run_cell, c) for c in cells]
        for done in as_completed(futures):
            record(done.result())
        return [f.result() for f in futures]


def read_log(log: Path) -> list[Cell]:
    """The cells a (possibly interrupted) table run appended to ``log``."""
    return [Cell(**json.loads(line)) for line in log.read_text().splitlines() if line.strip()]


def table_cells(datasets: Sequence[str], rates: Sequence[float], seeds: Sequence[int]) -> list[Cell]:
    """Seed by seed, so that an interrupted run leaves whole seeds."""
    return [Cell(d, m, r, s) for s in seeds for d in datasets for m in methods_for(d) for r in rates]


def table_blocks(cells: Sequence[Cell], wall: float | None = None, jobs: int = 1) -> dict[str, str]:
    """One markdown block per dataset: every method × rate, mean ± std over the seeds run for all of them."""
    datasets = list(dict.fromkeys(c.dataset for c in cells))
    blocks: dict[str, str] = {}
    for dataset in datasets:
        recipe = get_adapter(dataset).fast_recipe()
        mine = [c for c in cells if c.dataset == dataset]
        kinds = {(c.method, c.rate) for c in mine}
        ran = {(c.method, c.rate, c.seed) for c in mine}
        seeds = sorted({c.seed for c in mine if all((m, r, c.seed) in ran for m, r in kinds)})
        mine = [c for c in mine if c.seed in seeds]
        rates = sorted({c.rate for c in mine})
        rows = []
        for method in [m for m in METHODS if any(c.method == m for c in mine)]:
            for rate in rates:
                runs = [c for c in mine if c.method == method and c.rate == rate]
                rows.append(
                    f"| {method} | {rate:g} | {_fmt([r.test_last for r in runs])} | "
                    f"{_fmt([r.test_best_val for r in runs])} | {_fmt([r.auroc for r in runs], 3)} |"
                )
        took = "" if wall is None else f"; the command took {wall / 60:.0f} min on {jobs} worker(s)"
        unit = "test accuracy %" if mine[0].metric == "acc" else "test MAE"
        timed = [c.cpu_seconds for c in mine if math.isfinite(c.cpu_seconds)]
        cpu = (
            f"{statistics.fmean(timed):.0f} CPU s a run (mean of {len(timed)} timed runs)"
            if timed
            else "untimed"
        )
        blocks[dataset] = "\n".join(
            [
                f"**{dataset}** ({noise_of(dataset)}; recipe: {recipe.model}, {recipe.optimizer} "
                f"lr {recipe.lr:g}, batch {recipe.batch_size}, {recipe.epochs} epochs, {recipe.schedule}; "
                f"seeds {', '.join(map(str, seeds))}; {cpu}, one torch thread a run{took})",
                "",
                f"| method | rate | {unit}, last epoch | {unit}, best noisy-val epoch | weight AUROC |",
                "|---|---|---|---|---|",
                *rows,
                "",
            ]
        )
    return blocks


def replace_block(doc: str, dataset: str, text: str) -> str:
    """``doc`` with the dataset's table block replaced; a new block is added before the table end."""
    start, end = f"<!-- table:{dataset}:start -->", f"<!-- table:{dataset}:end -->"
    block = f"{start}\n{text}\n{end}"
    if start in doc and end in doc:
        head, _, rest = doc.partition(start)
        _, _, tail = rest.partition(end)
        return f"{head}{block}{tail}"
    if TABLE_END not in doc:
        raise SystemExit(f"the document has no {TABLE_END} marker")
    head, _, tail = doc.partition(TABLE_END)
    return f"{head}{block}\n{TABLE_END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("curves", "table"))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--img", default="docs/img", help="folder of the learning-curve figures")
    parser.add_argument(
        "--grid", nargs="+", type=int, default=list(EPOCH_GRID), help="candidate epochs (to resume a search)"
    )
    parser.add_argument(
        "--json", default=None, help="folder: the plotted curves also saved as curves-<dataset>.json"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.0, 0.4, 0.6])
    parser.add_argument("--md", default=None, help="markdown file: per-dataset table blocks replaced")
    parser.add_argument("--log", default=None, help="JSON-lines file each finished run is appended to")
    parser.add_argument(
        "--from-log", default=None, help="make the tables from such a file instead of running"
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (each one torch thread)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_builtin_components()
    if args.mode == "curves":
        log: list[str] = []
        for dataset in args.datasets:
            epochs, curves = choose_epochs(dataset, log, sorted(args.grid), args.jobs)
            shipped = get_adapter(dataset).fast_recipe().epochs
            path = plot_curves(dataset, epochs, curves, Path(args.img))
            if args.json:
                Path(args.json).mkdir(parents=True, exist_ok=True)
                saved = Path(args.json) / f"curves-{dataset}.json"
                saved.write_text(json.dumps({"epochs": epochs, "log": log, "curves": curves}, indent=1))
            print(f"== {dataset}: chosen E = {epochs}, shipped fast recipe E = {shipped}; figure {path}")
        return 0
    if args.from_log:
        blocks = table_blocks(read_log(Path(args.from_log)))
    else:
        t0 = time.time()
        cells_log = Path(args.log) if args.log else None
        cells = run_cells(table_cells(args.datasets, args.rates, args.seeds), args.jobs, cells_log)
        blocks = table_blocks(cells, time.time() - t0, args.jobs)
    for text in blocks.values():
        print(text, flush=True)
    if args.md:
        doc = Path(args.md).read_text()
        for dataset, text in blocks.items():
            doc = replace_block(doc, dataset, text)
        Path(args.md).write_text(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
