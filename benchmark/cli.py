"""The ``discrimbench`` command.

Sub-commands live in ``benchmark/commands/<name>.py``; each module exposes ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. They are imported only when chosen, so ``--help``
and ``list`` stay fast. Errors a user can cause (:class:`DiscrimBenchError`) become one line on stderr and
exit code 2; set ``DISCRIMBENCH_DEBUG=1`` to see the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from benchmark import __version__
from benchmark.errors import DiscrimBenchError

COMMANDS: dict[str, str] = {
    "list": "list registered methods, datasets, noise generators or models",
    "data": "describe datasets (sizes, classes, recipe, where files go, presence)",
    "train": "train one run (dataset, noise, rate, method, seed) and print its metrics",
    "run": "run a study: tune every cell with Optuna, repeat over seeds, log to MLflow, report",
    "report": "statistics, tables, figures and the HTML report of a finished study",
    "bench": "measure speed ratios (engine vs plain loop, methods vs CE, tracking, workers)",
}


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, error_line(f"{self.prog}: error: {message} (see --help)") + "\n")


def error_line(text: str) -> str:
    """``text`` in red when stderr is a terminal and the user did not set ``NO_COLOR`` (no-color.org).

    Errors are the only coloured output: progress bars and results stay plain, and results go to stdout,
    since tox shows a command's whole stderr in red.
    """
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    return f"\033[31m{text}\033[0m" if colour else text


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="discrimbench",
        description="DiscrimBench: DiscrimLoss and noisy-label baselines, compared fairly.",
    )
    parser.add_argument("--version", action="version", version=f"discrimbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    chosen = _chosen_command(sys.argv[1:])
    for name, help_text in COMMANDS.items():
        cmd_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _command_module(name).add_arguments(cmd_parser)
    return parser


def _chosen_command(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _command_module(name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"benchmark.commands.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    saved, sys.argv = sys.argv, [sys.argv[0], *argv]
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    finally:
        sys.argv = saved
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code = int(_command_module(args.command).run(args) or 0)
        sys.stdout.flush()  # a reader that left shows here, inside the guard, not at interpreter exit
        return code
    except DiscrimBenchError as exc:
        if os.environ.get("DISCRIMBENCH_DEBUG"):
            raise
        message = " ".join(str(exc).split())
        print(error_line(f"discrimbench {args.command}: error: {message}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("discrimbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `discrimbench list | head`: the reader has gone, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1


if __name__ == "__main__":
    sys.exit(main())
