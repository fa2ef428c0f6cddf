"""``discrimbench run STUDY.yaml|PRESET [--workers N] [--storage URL] [--tracking-uri URI] [--out DIR]
[--dry-run] [--no-report]``: validate, tune, repeat, track, report. Re-running the same command resumes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import TYPE_CHECKING

from benchmark import interrupts
from benchmark.naming import MLFLOW_ARTIFACTS, default_mlflow_uri
from benchmark.study_reader import parse_study_text, preset_names, read_study_source

if TYPE_CHECKING:
    from collections.abc import Sequence

    from benchmark.study import StudyPlan
    from benchmark.sweeps import SweepCell

HELP = "run a study: tune every cell with Optuna, repeat over seeds, log to MLflow, report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", help=f"a study YAML file or a preset ({', '.join(preset_names())})")
    parser.add_argument(
        "--workers", type=int, default=1, help="local worker processes sharing a journal file"
    )
    parser.add_argument(
        "--storage", help="Optuna storage URL (default: SQLite / journal in the output folder)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI; 'none' disables tracking (default: SQLite in the output folder)",
    )
    parser.add_argument("--out", help="output folder (default: the study's 'out', else results/<name>)")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved plan and write nothing")
    parser.add_argument("--no-report", action="store_true", help="skip the report at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--protocol",
        choices=("tuned", "paper-official", "both"),
        help="tuned (fair tuning), paper-official (the authors' per-cell hyperparameters fixed, the paper's "
        "selection rule; labelled in every output) or both side by side (default: the study's 'protocols')",
    )


def run(args: argparse.Namespace) -> int:
    parse_study_text(*read_study_source(args.study))  # untrusted text first, before torch is imported
    from benchmark.config import load_study
    from benchmark.study import plan_study

    chosen = getattr(args, "protocol", None)
    protocols = None if chosen is None else (["tuned", "paper-official"] if chosen == "both" else [chosen])
    study = load_study(args.study, out=args.out, protocols=protocols)
    plan = plan_study(study, storage=args.storage, tracking_uri=args.tracking_uri, workers=args.workers)
    if args.dry_run:
        print(describe_plan(plan))
        return 0
    from benchmark.study import run_study

    # torch imports torch._dynamo at the first optimiser step. An interrupt inside that import (it builds
    # dataclasses with exec) was seen to end the process by SIGINT (-2) after our handler had returned 130
    # (1 in 6 SIGTERMs in tests/hardening/test_mlflow_lifecycle.py), so it is imported before SIGTERM is
    # handled; every run needs it anyway.
    importlib.import_module("torch._dynamo")
    interrupts.install()  # SIGTERM like Ctrl-C: open MLflow runs end KILLED, the study resumes
    try:
        summary = run_study(plan, report=not args.no_report, progress=not args.quiet)
    except Exception as exc:
        mapped = _storage_error(exc, plan)
        if mapped is exc or os.environ.get("DISCRIMBENCH_DEBUG"):
            raise
        raise mapped from None
    print(f"results: {summary['results']} ({summary['rows']} rows)")
    print(f"study:   {plan.out / 'study.json'}")
    if summary.get("report"):
        print(f"report:  {summary['report']}")
    from benchmark.health import warning_text

    if summary.get("unhealthy"):
        print(warning_text(summary["unhealthy"]), file=sys.stderr)
    return 0


def _storage_error(exc: Exception, plan: StudyPlan) -> Exception:
    """A lost or failing storage connection (the database restarted and was not back within the reconnect
    patience, network) becomes one clean line; any other exception is returned unchanged (and re-raised by
    the caller)."""
    from benchmark.errors import TrackingError
    from benchmark.study import lost_storage_message
    from benchmark.tuning import storage_failure

    cause = storage_failure(exc)
    return exc if cause is None else TrackingError(lost_storage_message(cause, plan))


def describe_plan(plan) -> str:  # type: ignore[no-untyped-def]
    """The dry-run text: cells, budgets, selection, seeds and where every output goes."""
    from benchmark.config import PROTOCOL_NOTES
    from benchmark.tracking import mask_url

    cfg = plan.study.config
    seeds = cfg.seeds
    n_sweeps = len(plan.study.sweeps)
    lines = [
        f"study {cfg.name} ({plan.study.source}): {len(plan.cells)} cells"
        + (f" + {n_sweeps} sweep cells" if n_sweeps else "")
        + f", seeds {seeds}"
    ]
    selections = cfg.tuning.selections()
    for sel in selections:
        warn = (
            "  <-- tunes on the TEST set (oracle; for parity with papers only)"
            if sel == "test-oracle"
            else ""
        )
        lines.append(f"selection: {sel}{warn}")
    tu = cfg.tuning
    extra = tu.n_trials if tu.max_extra_trials is None else tu.max_extra_trials
    lines.append(
        f"tuning: {tu.n_trials} COMPLETED trials per cell (1 where nothing is searched), the first one "
        f"the paper defaults (it samples nothing), then TPE draws; pruned or failed trials are extra, at "
        f"most {extra} per cell; TPE seed {tu.sampler_seed}, pruner {tu.pruner} (never before "
        f"{tu.prune_startup_trials} completed trials, nor before a trial's method schedules have run and "
        f"{tu.prune_warmup_fraction:g} of its epochs), training seed of trials {tu.seed}"
    )
    if "paper-official" in cfg.protocols:
        lines.append(
            f"protocol paper-official: {PROTOCOL_NOTES['paper-official']}; selection {cfg.official_selection}"
            + ("  <-- the epoch is picked on the TEST set" if cfg.official_selection == "test-oracle" else "")
        )
    t = cfg.training
    lines.append(f"training: recipe {t.recipe_kind}, epochs {t.epochs or 'recipe'}, device {t.device}")
    for name, info in plan.study.datasets.items():
        where = (
            "embedded"
            if info.location is None
            else f"{info.location} ({'present' if info.present else 'MISSING'})"
        )
        lines.append(
            f"dataset {name}: {info.task}, classes {info.num_classes}, epochs {info.epochs}, {where}"
        )
    runs = 0
    for cell in plan.cells:
        space = ", ".join(f"{k}={v}" for k, v in sorted(cell.space.items())) or "(nothing searched: defaults)"
        if cell.protocol == "paper-official":
            space = "(nothing searched: " + (
                "the official values)" if cell.official else "no official values published: paper defaults)"
            )
        fixed = ", ".join(f"{k}={_shown(v)}" for k, v in sorted(cell.defaults.items()) if k not in cell.space)
        lines.append(f"  {cell.cell_id}: {cell.budget} trials + {len(seeds)} repeats; search {space}")
        lines.append(f"      fixed {fixed or '(nothing)'}")
        runs += cell.budget + len(seeds)
    sweep_lines, sweep_runs = _describe_sweeps(plan.study.sweeps)
    lines += sweep_lines
    runs += sweep_runs
    lines.append(f"total runs: {runs}" + (f" ({sweep_runs} of them sweep runs)" if sweep_runs else ""))
    lines.append(f"output folder: {plan.out}")
    lines.append(f"optuna storage: {mask_url(plan.storage_url)} (workers: {plan.workers})")
    uri = plan.tracking_uri
    if uri is None:
        uri = f"{default_mlflow_uri(plan.out)} (artifacts {plan.out / MLFLOW_ARTIFACTS})"
    lines.append(f"mlflow: {mask_url(uri)}")
    lines.append("dry run: nothing was written")
    return "\n".join(lines)


def _describe_sweeps(cells: Sequence[SweepCell]) -> tuple[list[str], int]:
    """The plan's lines for the ``sweeps:`` section, one block per sweep label, and its number of runs."""
    by_label: dict[str, list[SweepCell]] = {}
    for cell in cells:
        by_label.setdefault(cell.sweep, []).append(cell)
    lines, total = [], 0
    for label, group in by_label.items():
        first = group[0]
        runs = sum(c.budget for c in group)
        total += runs
        axes = "; ".join(
            f"{a.param} = [{', '.join(_grid_value(v) for v in a.values)}]"
            + (" (log)" if a.scale == "log" else "")
            for a in first.axes
        )
        where = sorted({f"{c.dataset}/{c.noise}/{c.rate:g}" for c in group})
        lines.append(
            f"sweep {label}: method {first.method}, base {first.base}; {axes}; {len(first.points)} grid "
            f"points x {len(first.seeds)} seeds {list(first.seeds)} x {len(group)} "
            f"cell{'' if len(group) == 1 else 's'} = {runs} runs"
        )
        lines.append(f"      cells {', '.join(where)}")
    return lines, total


def _grid_value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _shown(value: object) -> str:
    """A fixed value as the plan prints it (None: the method derives it from the run)."""
    return "derived by the method" if value is None else repr(value)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
