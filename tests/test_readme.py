"""The README's "Python API" and "Write a plugin" sections run as written.

The Python API blocks are concatenated into one script and run in an empty folder, as a user would run
them; the plugin's files are written from the README, built and installed with pip (``--target``, offline,
nothing enters the environment) and used through the CLI and a study file, found by its entry point alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def section(title: str) -> str:
    """The text of the README section ``## title`` (up to the next ``## ``)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(title: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(section(title)) if lang == language]


def _env(*paths: Path) -> dict[str, str]:
    extra = [str(p) for p in paths] + [str(REPO)]
    old = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*extra, *([old] if old else [])]),
        "OMP_NUM_THREADS": "1",
    }


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_top_commands_are_unchanged() -> None:
    head = README.read_text(encoding="utf-8").split("\n## ", 1)[0]
    assert "python3 -m pip install -q tox && tox -e quick" in head
    assert "python3 -m pip install -q tox && tox -e test" in head


def test_install_section_names_the_venv_path_extras_disk_and_gpu() -> None:
    text = section("Install")
    for needle in ("pip install -e .", "python3.11 -m venv", "[test]", "postgres", "text", "GB", "GPU",
                   "--index-url https://download.pytorch.org/whl/cpu"):  # fmt: skip
        assert needle in text, needle


def test_python_api_blocks_run_one_after_the_other(tmp_path: Path) -> None:
    code = blocks("Python API", "python")
    assert len(code) == 4
    outputs = []
    for number, body in enumerate(code, 1):
        script = tmp_path / f"readme_api_{number}.py"
        script.write_text(body, encoding="utf-8")
        outputs.append(_run([sys.executable, str(script)], tmp_path, _env()).stdout)
    assert "{'results': 'results/demo/results.csv', 'rows': 4" in outputs[1]
    assert "mean 1/σ: corrupted" in outputs[3]


def _plugin_files(folder: Path) -> None:
    files = [body for lang in ("toml", "python") for body in blocks("Write a plugin", lang)]
    assert len(files) == 2
    for body in files:
        first, rest = body.split("\n", 1)
        assert first.startswith("# file: "), first
        (folder / first.removeprefix("# file: ").strip()).write_text(rest, encoding="utf-8")


@pytest.mark.slow
def test_plugin_example_installs_and_runs_through_its_entry_point(tmp_path: Path) -> None:
    source, site = tmp_path / "discrimbench-mae", tmp_path / "site"
    source.mkdir()
    _plugin_files(source)
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
          "--no-index", "--target", str(site), str(source)], tmp_path, _env())  # fmt: skip
    assert (site / "discrimbench_mae.py").is_file()
    env = _env(site)
    cli = [sys.executable, "-m", "benchmark"]
    listed = _run([*cli, "list", "methods"], tmp_path, env).stdout
    assert re.search(r"^mae +mean absolute error on probabilities", listed, re.MULTILINE), listed
    train = [*cli, "train", "--dataset", "digits", "--method", "mae", "--epochs", "1", "--device", "cpu"]
    trained = _run([*train, "--set", "scale=1.5", "--rate", "0.4", "--json"], tmp_path, env)
    assert '"status": "ok"' in trained.stdout and '"scale": 1.5' in trained.stdout
    study = tmp_path / "mae.yaml"
    study.write_text(
        "name: mae\ndatasets: {digits: {}}\nnoises: {sym-excl: {rates: [0.4]}}\n"
        "methods: {ce: {}, mae: {search: {scale: [0.5, 1.0]}}}\nseeds: [1]\ntuning: {n_trials: 2}\n"
    )
    plan = _run([*cli, "run", str(study), "--dry-run"], tmp_path, env).stdout
    assert "digits/sym-excl/0.4/mae: 2 trials + 1 repeats; search scale=" in plan
    wrong = subprocess.run([*cli, "train", "--dataset", "digits", "--method", "mae", "--set", "scal=2"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert (
        wrong.returncode == 2
        and "mae.scal is not a hyperparameter of mae; did you mean 'scale'?" in wrong.stderr
    )


def test_sensitivity_section_sweeps_block_validates_and_its_image_exists() -> None:
    import yaml

    from benchmark.config import resolve_study

    (block,) = blocks("Hyperparameter sensitivity", "yaml")
    study = {
        "name": "readme-sweeps", "datasets": {"digits": {}}, "noises": {"sym-excl": {"rates": [0.2, 0.4]}},
        "methods": ["ce"], "seeds": [1, 2], **yaml.safe_load(block),
    }  # fmt: skip
    sweeps = resolve_study(study).sweeps
    assert [c.cell_id for c in sweeps] == [
        "digits/sym-excl/0.2/discrimloss@sweep-discrimloss-a",
        "digits/sym-excl/0.4/discrimloss@sweep-discrimloss-a",
        "digits/sym-excl/0.4/gce@sweep-gce-q",
    ]
    images = re.findall(r"\]\((docs/img/[^)]*\.png)\)", section("Hyperparameter sensitivity"))
    assert images == ["docs/img/sensitivity_curves.png"] and (REPO / images[0]).is_file()
