"""Fixtures of the hardening tests: an in-process CLI runner and a finished small study."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmark.cli import main

from ._helpers import ENV, run_cmd, write_study


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``benchmark.cli.main`` in-process; argparse's SystemExit is turned into its exit code."""

    def _run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 2
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small study run once, uninterrupted, with MLflow tracking; returns its output folder."""
    folder = tmp_path_factory.mktemp("finished")
    study = write_study(folder)
    done = subprocess.run(
        run_cmd(study, folder / "out"), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "out"
