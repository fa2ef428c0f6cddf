"""``discrimbench report STUDY_DIR|STUDY.yaml [--format md,html,tex] [--reference NAME ...] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "statistics, tables, figures and the HTML report of a finished study"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="a study output folder, or its STUDY.yaml")
    parser.add_argument(
        "--format",
        default="md,html,tex",
        help="comma-separated report formats among md, html, tex (default: all)",
    )
    parser.add_argument(
        "--reference",
        action="append",
        metavar="NAME",
        help="reference file in benchmark/report/references to compare with (repeatable; default: all)",
    )
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: STUDY_DIR/report)")


def run(args: argparse.Namespace) -> int:
    from benchmark.errors import WRITE_ERRNOS, output_error
    from benchmark.output_files import check_output_folder
    from benchmark.report import make_report  # heavy imports (matplotlib, scipy) only when chosen
    from benchmark.report.io import resolve_study_dir

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    check_output_folder(args.out or resolve_study_dir(args.study) / "report")  # before the 30 s of work
    try:
        out = make_report(
            args.study, formats=formats, references=args.reference, out=args.out, progress=sys.stderr.isatty()
        )
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        raise output_error(exc, exc.filename or args.out or "the report folder") from None
    print(f"report written to {out}")
    return 0
