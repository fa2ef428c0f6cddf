"""mypy --strict passes on ``benchmark`` and ``baselines``: CI runs only the test suite, so types are a test.

mypy runs as a subprocess with the project's own configuration (``[tool.mypy]`` in pyproject.toml: strict, the
files, the untyped libraries); the stubs it needs come with the ``test`` extra. A cold cache takes a couple of
minutes on two cores, a warm one (``.mypy_cache`` in the repository root) a few seconds.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def test_the_mypy_configuration_covers_the_packages_strictly() -> None:
    config = tomllib.loads(PYPROJECT.read_text("utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    assert set(config["files"]) == {"benchmark", "baselines"}


@pytest.mark.slow
def test_mypy_strict_reports_no_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "--no-color-output"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    # a missing mypy (no test extra) fails here too, with "No module named mypy" in the message
    assert done.returncode == 0, f"mypy found errors:\n{done.stdout}{done.stderr}"
    assert "Success: no issues found" in done.stdout
