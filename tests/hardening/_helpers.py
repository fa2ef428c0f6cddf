"""Shared helpers of the hardening tests: the small study, CLI command lines, file snapshots."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

# 2 cells (ce: 1 trial, gce: 2 trials) × 2 seeds, 1 epoch: a whole run takes a few seconds.
SMALL: dict[str, Any] = {
    "name": "small",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.4]}},
    "methods": ["ce", "gce"],
    "seeds": [1, 2],
    "tuning": {"n_trials": 2, "sampler_seed": 3},
    "training": {"epochs": 1, "device": "cpu", "threads": 1},
}
VOLATILE = ["wall_time_s", "mlflow_run_id"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def write_study(folder: Path, changes: dict[str, Any] | None = None, name: str = "study.yaml") -> Path:
    """Write the small study (updated with ``changes``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump({**SMALL, **(changes or {})}, sort_keys=False))
    return path


def run_cmd(study: Path, out: Path, *extra: str) -> list[str]:
    """The ``discrimbench run`` command line for a subprocess."""
    return [sys.executable, "-m", "benchmark.cli", "run", str(study), "--out", str(out), "--no-report",
            "--quiet", *extra]  # fmt: skip


def run_subprocess(argv: Sequence[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m benchmark.cli ARGV`` in a fresh process (exit code, stdout, stderr as text)."""
    return subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *argv],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path → digest)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
