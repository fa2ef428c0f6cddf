"""``discrimbench list methods|datasets|noises|models [--json]``."""

from __future__ import annotations

import argparse
import json

from benchmark.registry import DATASETS, METHODS, MODELS, NOISES, Registry, load_builtin_components

HELP = "list registered methods, datasets, noise generators or models"
REGISTRIES: dict[str, Registry] = {
    "methods": METHODS,
    "datasets": DATASETS,
    "noises": NOISES,
    "models": MODELS,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=sorted(REGISTRIES), help="which registry to list")
    parser.add_argument("--json", action="store_true", help="print a JSON object name → summary")


def run(args: argparse.Namespace) -> int:
    load_builtin_components()
    registry = REGISTRIES[args.what]
    rows = {entry.name: entry.summary for entry in registry.entries()}
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"(no {args.what} registered)")
        return 0
    width = max(len(name) for name in rows)
    for name, summary in rows.items():
        print(f"{name:<{width}}  {summary}")
    return 0
