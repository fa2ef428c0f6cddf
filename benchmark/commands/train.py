"""``discrimbench train``: one run (dataset, noise, rate, method, seed), its metrics on stdout.

``--set`` overrides, values read with ``yaml.safe_load``::

    q=0.5 | method.q=0.5           method hyperparameter
    recipe.lr=0.01                 recipe field (recipe.model_kwargs.width=16 sets one model option)
    data.n_train=500               dataset option
    noise.std=2                    noise-generator option

Exit codes: 0 finished, 1 the run diverged (status "failed"), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import OutputError, StudyConfigError, did_you_mean
from benchmark.naming import SELECTIONS
from benchmark.output_files import atomic_write, check_output_folder, rescue_folder
from benchmark.runs import RunResult, RunSpec

HELP = "train one run (dataset, noise, rate, method, seed) and print its metrics"
PREFIXES = ("method", "recipe", "data", "noise")
_YAML11_FLOAT_MISS = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset name (discrimbench list datasets)")
    parser.add_argument("--noise", default="sym-excl", help="noise generator (default: sym-excl)")
    parser.add_argument("--rate", type=float, default=0.0, help="nominal noise rate (default: 0)")
    parser.add_argument("--method", default="ce", help="loss method (default: ce)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (noise, split, init, order)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a method/recipe/data/noise parameter (repeatable), e.g. q=0.5, recipe.lr=0.01",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    parser.add_argument("--recipe", choices=("fast", "paper"), default="fast", help="recipe kind")
    parser.add_argument(
        "--selection",
        choices=SELECTIONS,
        default="noisy-val",
        help="series that picks the best epoch (default noisy-val; test-oracle reads the test set)",
    )
    parser.add_argument("--val-fraction", type=float, default=0.1, help="validation share of the pool")
    parser.add_argument("--data-root", default=None, help="dataset root (default: $DISCRIMBENCH_DATA)")
    parser.add_argument("--out", default=None, help="write result.json, history.csv, sample_weights.npy")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object only")


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """Split ``NAME=VALUE`` strings into method / recipe / data / noise dicts.

    Raises:
        StudyConfigError: an item without ``=``, an empty name, an unknown prefix or unparsable YAML.
    """
    out: dict[str, dict[str, Any]] = {p: {} for p in PREFIXES}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise StudyConfigError(f"--set {item!r}: expected NAME=VALUE, e.g. --set recipe.lr=0.01")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise StudyConfigError(f"--set {name}: cannot read the value {text!r} as YAML") from None
        if isinstance(value, str) and _YAML11_FLOAT_MISS.fullmatch(value.strip()):
            value = float(value)  # PyYAML (YAML 1.1) reads 1e-3 as a string; everyone means a number
        prefix, dot, rest = name.partition(".")
        if not dot:
            prefix, rest = "method", name
        if prefix not in PREFIXES or not rest:
            raise StudyConfigError(
                f"--set {name}: unknown prefix {prefix!r} (allowed: a method hyperparameter name, "
                f"or {', '.join(p + '.NAME' for p in PREFIXES)}){did_you_mean(prefix, PREFIXES)}"
            )
        target = out[prefix]
        head, dot, leaf = rest.partition(".")
        if prefix == "recipe" and head == "model_kwargs" and dot:
            target.setdefault("model_kwargs", {})[leaf] = value
        else:
            target[rest] = value
    return out


def run(args: argparse.Namespace) -> int:
    from benchmark.training import train_run

    if args.epochs is not None and args.epochs < 1:
        raise StudyConfigError(f"--epochs must be >= 1, got {args.epochs}")
    sets = parse_overrides(args.overrides)
    if args.out:
        check_output_folder(Path(args.out))  # before the data is loaded: a bad --out costs nothing
    spec = RunSpec(
        dataset=args.dataset,
        noise=args.noise,
        rate=args.rate,
        method=args.method,
        params=sets["method"],
        seed=args.seed,
        device=args.device,
        epochs=args.epochs,
        recipe=sets["recipe"],
        recipe_kind=args.recipe,
        dataset_kwargs=sets["data"],
        noise_params=sets["noise"],
        val_fraction=args.val_fraction,
        data_root=args.data_root,
    )
    result = train_run(spec, selection=args.selection, progress=sys.stderr.isatty())
    failure = None
    if args.out:
        try:
            write_outputs(result, Path(args.out))
        except OutputError as exc:
            failure = exc  # the result is printed first, so that it is never lost
    if args.json:
        print(json.dumps(result.to_json_dict()))
    else:
        print(summary_table(result))
    failures = result.health.get("failures", [])
    if failures:
        from benchmark.health import warning_text

        cell = f"{spec.dataset}/{spec.noise}/{spec.rate:g}/{spec.method} seed {spec.seed}"
        print(warning_text({cell: failures}, what="run"), file=sys.stderr)
    if failure is not None:
        sys.stdout.flush()
        copy = rescue_folder("discrimbench-train-", lambda folder: write_outputs(result, folder))
        where = f"a copy is in {copy}" if copy else "no copy could be written either"
        raise OutputError(f"{failure}; the result is printed above and {where}")
    return 0 if result.status == "ok" else 1


def write_outputs(result: RunResult, folder: Path) -> None:
    """``result.json``, ``history.csv`` (one row per epoch) and ``sample_weights.npy`` (if any), each
    written atomically.

    Raises:
        OutputError: a file could not be written (the files written before it are complete).
    """
    import numpy as np

    def history(tmp: Path) -> None:
        keys = list(result.history[0]) if result.history else ["epoch"]
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(result.history)

    def weights(tmp: Path) -> None:
        with tmp.open("wb") as fh:  # np.save given a path would append ".npy" to the temporary name
            np.save(fh, np.asarray(result.sample_weights))

    text = json.dumps(result.to_json_dict(), indent=2) + "\n"
    atomic_write(folder / "result.json", lambda tmp: tmp.write_text(text))
    atomic_write(folder / "history.csv", history)
    if result.sample_weights is not None:
        atomic_write(folder / "sample_weights.npy", weights)


def summary_table(result: RunResult) -> str:
    """A two-column, human-readable summary of a run."""
    s, m = result.spec, result.metric
    unit = " %" if m == "acc" else ""

    def num(v: float, fmt: str = ".2f") -> str:
        return "—" if v is None or not math.isfinite(v) else format(v, fmt)

    rows = [
        ("run", f"{s.dataset} / {s.noise} {s.rate:g} / {s.method} / seed {s.seed}"),
        ("status", result.status + (f" ({result.reason})" if result.reason else "")),
        ("realised noise rate", num(result.realised_rate, ".4f")),
        (f"test {m} (last epoch)", num(result.test_last) + unit),
        (
            f"test {m} (best {result.extra.get('selection', 'val')}, epoch {result.best_val_epoch})",
            num(result.test_best_val) + unit,
        ),
        (f"test {m} (ORACLE, epoch {result.oracle_epoch})", num(result.test_oracle) + unit),
        ("AUROC corrupted vs clean", num(result.auroc_noisy_clean, ".4f")),
        ("AUROC corrupted vs hard clean", num(result.auroc_noisy_hard, ".4f")),
        ("epochs", str(len(result.history))),
        ("wall time", num(result.wall_time_s) + " s"),
        ("samples / s", num(result.samples_per_s, ".0f")),
        ("peak memory", num(result.peak_memory_mb, ".0f") + " MiB"),
        ("device", result.device),
        ("budget health", "; ".join(result.health.get("failures", [])) or "ok"),
        *[("note", note) for note in result.health.get("notes", [])],
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
