"""``discrimbench list [methods|datasets|noises|models] [--json]``: one registry, or all of them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmark.registry import DATASETS, METHODS, MODELS, NOISES, Registry, load_builtin_components

HELP = "list registered methods, datasets, noise generators or models"
REGISTRIES: dict[str, Registry[Any]] = {
    "methods": METHODS,
    "datasets": DATASETS,
    "noises": NOISES,
    "models": MODELS,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what", nargs="?", choices=sorted(REGISTRIES), help="which registry to list (default: all of them)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON object name → summary (registry → that, for all)"
    )


def run(args: argparse.Namespace) -> int:
    load_builtin_components()
    kinds = [args.what] if args.what else list(REGISTRIES)
    tables = {kind: {e.name: e.summary for e in REGISTRIES[kind].entries()} for kind in kinds}
    if args.json:
        print(json.dumps(tables[args.what] if args.what else tables, indent=2))
        return 0
    for kind, rows in tables.items():
        if not args.what:
            print(f"{kind}:" if rows else f"{kind}: (none registered)")
        elif not rows:
            print(f"(no {kind} registered)")
        indent = "" if args.what else "  "
        width = max((len(name) for name in rows), default=0)
        for name, summary in rows.items():
            print(f"{indent}{name:<{width}}  {summary}")
    if not args.what:
        print("(discrimbench list methods|datasets|noises|models [--json] shows one of them)")
    return 0
