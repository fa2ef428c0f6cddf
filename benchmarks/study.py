"""Study-level speed: tracking overhead, local worker scaling, and the quick study's wall time, peak RSS
and profile (run by hand; ``discrimbench bench`` runs the same measurements).

Claims checked (issue 7), each measured side by side by the real CLI in fresh processes:
* the quick preset with MLflow logging / with ``--tracking-uri none``: ≤ 1.10;
* the quick preset with ``--workers 1`` / ``--workers 2``, MLflow on both: ≥ 1.6 on a 2-core machine,
  printed beside the machine's own ceiling right before each 2-worker run (two copies of one digits CE
  training against one copy: what two processes can gain on this machine at that moment);
* the quick preset: wall time and peak resident memory (reported; no target).

The three configurations run in turn, three times (in rotated order), and each figure compares the
configurations' median runs (``--quick``: once each, on a reduced study of 3 methods, 2 rates and 2 seeds).

``--profile FILE`` runs the reduced quick study in this process under cProfile instead, writes the stats
to FILE and prints the 25 most expensive functions by cumulative time.

Usage::

    python benchmarks/study.py [--only tracking workers quick] [--quick] [--profile prof.out]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

import yaml

from benchmark.perf import GROUPS, REDUCED_STUDY, machine


def profile(path: Path, full: bool) -> None:
    """cProfile of one uninterrupted study run in this process (tracking on, as users run it)."""
    from benchmark.cli import main

    with tempfile.TemporaryDirectory(prefix="discrimbench-profile-") as tmp:
        study = "quick" if full else str(Path(tmp) / "study.yaml")
        if not full:
            Path(study).write_text(yaml.safe_dump(REDUCED_STUDY, sort_keys=False))
        prof = cProfile.Profile()
        prof.enable()
        code = main(["run", study, "--out", str(Path(tmp) / "out"), "--no-report", "--quiet"])
        prof.disable()
    prof.dump_stats(str(path))
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(25)
    if code:
        sys.exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["tracking", "workers", "quick"],
                        choices=["tracking", "workers", "quick"])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="one round of the reduced study")
    parser.add_argument("--profile", type=Path, help="profile the reduced quick study into this file")
    parser.add_argument("--full", action="store_true", help="with --profile: the whole quick preset")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.full)
        return
    info = machine()
    print(f"machine: {info['cpu_count']}-core CPU, {info['cuda'] or 'no GPU'}, torch {info['torch']}")
    for group in args.only:
        for figure in GROUPS[group](args.quick):
            print(figure.line())


if __name__ == "__main__":
    main()
