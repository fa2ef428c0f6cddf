"""The published reference numbers ship inside the package: a built wheel holds every reference CSV, and
the report finds them through importlib.resources (not through a path relative to a source checkout)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from benchmark.report.reference import load_references, reference_folder

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "benchmark" / "report" / "references"


def test_the_references_are_found_through_importlib_resources() -> None:
    shipped = sorted(p.name for p in reference_folder().iterdir() if p.name.endswith(".csv"))
    on_disk = sorted(p.name for p in SOURCE.glob("*.csv"))
    assert shipped == on_disk and len(on_disk) >= 4
    refs = load_references()
    assert sorted(refs["source"].unique()) == [n.removesuffix(".csv") for n in on_disk]


def test_a_built_wheel_contains_every_reference_csv(tmp_path: Path) -> None:
    """Build the wheel from a copy of the sources (nothing is written into the checkout), then list it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("benchmark", "baselines"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if built.returncode and "No module named" in built.stderr:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip().splitlines()[-1]}")
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("discrimbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"benchmark/report/references/{p.name}" for p in SOURCE.glob("*.csv")}
    assert expected and expected <= names, sorted(expected - names)
    assert "benchmark/report/references/README.md" in names
