"""Helpers for the study tests: tiny study files and a CLI runner that returns (exit code, stdout, stderr)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.cli import main

TINY: dict[str, Any] = {
    "name": "tiny",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.0, 0.4]}},
    "methods": ["ce", "gce"],
    "seeds": [1, 2],
    "tuning": {"n_trials": 2, "sampler_seed": 3},
    "training": {"epochs": 1, "device": "cpu", "threads": 1},
}


@pytest.fixture(scope="session")
def tiny_config() -> dict[str, Any]:
    """The tiny study as a mapping (digits, ce + gce, rates 0 and 0.4, seeds 1 and 2, 2 trials, 1 epoch)."""
    return dict(TINY)


@pytest.fixture
def write_study(tmp_path: Path) -> Callable[..., Path]:
    """Write a study file (the tiny one, updated with ``changes``) and return its path."""

    def _write(
        changes: dict[str, Any] | None = None, name: str = "study.yaml", text: str | None = None
    ) -> Path:
        path = tmp_path / name
        if text is None:
            data = {**TINY, **(changes or {})}
            text = yaml.safe_dump(data, sort_keys=False)
        path.write_text(text)
        return path

    return _write


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def _run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


PYTHON = sys.executable
