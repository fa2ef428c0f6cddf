"""``discrimbench bench [--only NAME ...] [--quick] [--json]``: measure the speed figures of issue 7.

Groups: ``engine`` (engine vs a plain loop; GCE, SuperLoss, DiscrimLoss, Co-teaching step vs CE), ``scale``
(each method's step time at N = 1e7 vs 1e3 and bytes of state per sample), ``run`` (a whole run vs a
bare training loop),
``tracking`` (MLflow vs ``--tracking-uri none``), ``workers`` (``--workers 2`` vs 1), ``quick`` (the
quick study's wall time and peak RSS) and ``gpu`` (WRN-28-10 on CUDA, else skipped). Every figure is
printed with its target and PASS/FAIL; the exit code is 0 even when a target is missed (a measurement,
not a test), unless ``--strict``.
"""

from __future__ import annotations

import argparse
import json

from benchmark.errors import StudyConfigError

HELP = "measure speed ratios (engine vs plain loop, methods vs CE, tracking, workers, quick study, GPU)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmark.perf import GROUPS

    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help=f"measure only these groups ({', '.join(GROUPS)})"
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats and the reduced quick study")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")


def run(args: argparse.Namespace) -> int:
    import difflib

    from benchmark.perf import GROUPS, machine, measure

    only = list(args.only or [])
    for name in only:
        if name not in GROUPS:
            close = difflib.get_close_matches(name, GROUPS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            allowed = ", ".join(GROUPS)
            raise StudyConfigError(f"--only {name!r} is not a bench group{hint} (allowed: {allowed})")

    figures = measure(only or None, quick=args.quick)
    info = machine()
    if args.json:
        print(json.dumps({"machine": info, "figures": [f.to_dict() for f in figures]}, indent=2, default=str))
    else:
        cuda = info["cuda"] or "no GPU"
        cpu = f"{info['cpu_count']}-core CPU ({info['processor']}, torch kernels {info['cpu_capability']})"
        print(f"machine: {cpu}, {cuda}, torch {info['torch']}")
        for figure in figures:
            print(figure.line())
    failed = any(f.verdict == "FAIL" for f in figures)
    return 1 if failed and args.strict else 0
