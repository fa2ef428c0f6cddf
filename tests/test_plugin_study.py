"""An out-of-tree method and dataset, installed through their entry points, run in a study through the
CLI and appear in its results and report, with no edit to DiscrimBench.

The plugin is ``tests/fixtures/plugin`` (public modules only); its ``entry_points.txt`` is turned into a
``pyproject.toml`` and the package is built and installed with pip into a temporary folder (offline,
``--target``: nothing enters the environment), which is then the only thing added to the path.
"""

from __future__ import annotations

import ast
import configparser
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "tests" / "fixtures" / "plugin"
PUBLIC = {"benchmark.method", "benchmark.space", "benchmark.registry", "benchmark.data"}


def _pyproject(entry_points: Path) -> str:
    """A pyproject.toml for the fixture module, declaring the entry points of its dist-info."""
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment, method-assign]  (entry-point names keep their case)
    parser.read(entry_points)
    lines = [
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n',
        '[project]\nname = "discrimbench-toyplugin"\nversion = "0.1"\n',
        '[tool.setuptools]\npy-modules = ["discrimbench_toyplugin"]\n',
    ]
    for group in parser.sections():
        lines.append(f'[project.entry-points."{group}"]')
        lines += [f'"{name}" = "{value}"' for name, value in parser.items(group)]
        lines.append("")
    return "\n".join(lines)


def _install(tmp_path: Path) -> Path:
    source, site = tmp_path / "toyplugin", tmp_path / "site"
    source.mkdir()
    shutil.copy(PLUGIN / "discrimbench_toyplugin.py", source)
    (source / "pyproject.toml").write_text(
        _pyproject(PLUGIN / "discrimbench_toyplugin-0.1.dist-info" / "entry_points.txt")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return site


def test_the_plugin_imports_only_public_modules() -> None:
    tree = ast.parse((PLUGIN / "discrimbench_toyplugin.py").read_text("utf-8"))
    ours = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.split(".")[0] in ("benchmark", "baselines")
    }
    assert ours == PUBLIC


def test_a_plugin_method_and_dataset_run_in_a_study_and_reach_results_and_report(tmp_path: Path) -> None:
    site = _install(tmp_path)
    assert (site / "discrimbench_toyplugin.py").is_file()
    study = tmp_path / "plugin.yaml"
    study.write_text(
        "name: plugin\ndatasets: {toy-blobs: {}}\nnoises: {sym-excl: {rates: [0.4]}}\n"
        "methods: {ce: {}, toy-mae: {}, toy-mae-double: {method: toy-mae, preset: double}}\n"
        "seeds: [1]\ntuning: {n_trials: 1}\n"
        "training: {epochs: 2, device: cpu, threads: 1}\n"
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", "run", str(study), "--out", str(out), "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["dataset"], r["method"], r["status"]) for r in rows} == {
        ("toy-blobs", "ce", "ok"),
        ("toy-blobs", "toy-mae", "ok"),
        ("toy-blobs", "toy-mae-double", "ok"),  # the label, not the method's name
    }
    double = next(r for r in rows if r["method"] == "toy-mae-double")
    assert '"scale": 2.0' in double["params"] and double["n_trials"] == "1"  # the preset, fixed
    report = (out / "report" / "report.md").read_text("utf-8")
    for label in ("toy-mae", "toy-mae-double"):  # a row of the per-cell table for each
        assert f"\n| toy-blobs | sym-excl | 0.4 | {label} |" in report, report
