"""``discrimbench data describe|prepare NAME ...``.

``describe`` prints what a dataset is (task, classes, sizes, recipes, noises that apply), where its files
go under the data root and whether they are there; it never loads or downloads data. ``prepare`` loads
the data, applies a noise exactly as a run would and prints the noise manifest (sizes, realised rate,
sha256 of the noisy labels), so a user can check data and noise before a study.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from benchmark.errors import StudyConfigError

HELP = "describe datasets (sizes, classes, recipe, where files go, presence)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    describe = sub.add_parser("describe", help="describe one dataset", description="describe one dataset")
    describe.add_argument("name", help="dataset name (see `discrimbench list datasets`)")
    describe.add_argument("--json", action="store_true", help="print JSON instead of text")
    describe.add_argument(
        "--data-root", default=None, help="data root (default: $DISCRIMBENCH_DATA, else ./datasets)"
    )
    describe.add_argument(
        "--set",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option, e.g. --set num_samples=1000 (values parsed as YAML scalars)",
    )

    prep = sub.add_parser(
        "prepare", help="load a dataset, apply a noise, print the manifest", description="load and noise"
    )
    prep.add_argument("name", help="dataset name")
    prep.add_argument("--noise", default="sym-excl", help="noise generator (default sym-excl)")
    prep.add_argument("--rate", type=float, default=0.0, help="nominal noise rate (default 0)")
    prep.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    prep.add_argument("--val-fraction", type=float, default=0.1, help="validation share (default 0.1)")
    prep.add_argument("--recipe", choices=("fast", "paper"), default="fast", help="recipe kind")
    prep.add_argument("--download", action="store_true", help="download the dataset if it is missing")
    prep.add_argument("--json", action="store_true", help="print JSON instead of text")
    prep.add_argument("--data-root", default=None, help="data root")
    prep.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE")
    prep.add_argument("--noise-param", dest="noise_params", action="append", default=[], metavar="KEY=VALUE")


def _parse_options(items: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise StudyConfigError(f"--set expects KEY=VALUE, got {item!r}")
        options[key.strip()] = yaml.safe_load(value)
    return options


def _text(info: dict[str, Any]) -> str:
    lines = [f"{info['name']}: {info['task']}"]
    if info["num_classes"] is not None:
        lines[0] += f", {info['num_classes']} classes"
    if info["target_range"] is not None:
        lines[0] += f", targets in [{info['target_range'][0]:g}, {info['target_range'][1]:g}]"
    lines += [
        f"  size:          {info['size']}",
        f"  input shape:   {tuple(info['input_shape'])}",
        f"  source:        {info['source']}",
        f"  licence:       {info['licence']}",
        f"  validation:    {'official split' if info['official_val'] else 'held out (val_fraction)'}",
        f"  noises:        {', '.join(info['noises'])}",
        f"  options:       {', '.join(f'{k}={v!r}' for k, v in info['options'].items()) or '(none)'}",
    ]
    if info["embedded"]:
        lines.append("  files:         none (embedded / generated); present: yes")
    else:
        lines.append(f"  files go in:   {info['location']}")
        lines += [f"                 {p}" for p in info["required_files"]]
        lines.append(f"  present:       {'yes' if info['present'] else 'no'}")
    for kind, recipe in info["recipes"].items():
        extra = f", milestones {list(recipe['milestones'])}" if recipe["milestones"] else ""
        lines.append(
            f"  recipe {kind + ':':<7}{recipe['model']}, {recipe['optimizer']} lr {recipe['lr']:g}, "
            f"wd {recipe['weight_decay']:g}, {recipe['schedule']}{extra}, {recipe['epochs']} epochs, "
            f"batch {recipe['batch_size']}, augment {recipe['augment']}"
        )
    return "\n".join(lines)


def _prepare(args: argparse.Namespace) -> int:
    from benchmark.data import prepare

    data = prepare(
        args.name,
        args.noise,
        args.rate,
        args.seed,
        noise_params=_parse_options(args.noise_params),
        dataset_kwargs=_parse_options(args.options),
        val_fraction=args.val_fraction,
        data_root=args.data_root,
        recipe_kind=args.recipe,
        download=args.download,
    )
    info = {
        "dataset": data.name,
        "task": data.task,
        "num_classes": data.num_classes,
        "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        "noise": data.noise_name,
        "rate": data.noise_rate,
        "noise_params": data.extra["noise_params"],
        "realised_rate": data.realised_rate,
        "noisy_labels_sha256": data.noisy_labels_sha256,
        "transition_diagonal": None
        if data.transition is None
        else data.transition.diagonal().round(4).tolist(),
        "input_shape": list(data.input_shape),
        "recipe": data.recipe.model,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key + ':':<21}{value}")
    return 0


def run(args: argparse.Namespace) -> int:
    from benchmark.data import get_adapter, resolve_data_root

    if args.action == "prepare":
        return _prepare(args)
    adapter = get_adapter(args.name, **_parse_options(args.options))
    info = adapter.describe(resolve_data_root(args.data_root))
    print(json.dumps(info, indent=2, default=str) if args.json else _text(info))
    return 0
