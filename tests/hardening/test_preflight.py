"""The dry run and the real run refuse the same study files with the same line, before writing anything.

Every case of issue 19's table: each passed ``--dry-run`` (printing a plan) while the real run refused it,
most after creating ``optuna.db``. Both now stop in :func:`benchmark.preflight.preflight`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._helpers import SMALL, write_study

CPU = {"epochs": 1, "device": "cpu", "threads": 1}
CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "device",
        {"training": {**CPU, "device": "banana"}},
        "training.device: device='banana' is not a device (allowed: auto, cpu, cuda, cuda:N)",
    ),
    (
        "batch-size",
        {"training": {**CPU, "recipe": {"batch_size": 0}}},
        "training.recipe.batch_size=0 is not allowed (an integer >= 1) (dataset digits)",
    ),
    (
        "momentum",
        {"training": {**CPU, "recipe": {"momentum": 2}}},
        "training.recipe.momentum=2 is not allowed (0 <= momentum < 1) (dataset digits)",
    ),
    (
        "lr-list",
        {"training": {**CPU, "recipe": {"lr": [1, 2]}}},
        "training.recipe.lr=[1, 2] is not allowed (a finite number) (dataset digits)",
    ),
    (
        "weight-decay-inf",
        {"training": {**CPU, "recipe": {"weight_decay": float("inf")}}},
        "training.recipe.weight_decay=inf is not allowed (a finite number) (dataset digits)",
    ),
    (
        "mnist-missing",
        {"datasets": {"mnist": {}}, "training": {**CPU, "data_root": "{tmp}/no-data"}},
        "datasets.mnist: dataset 'mnist': file train-images-idx3-ubyte not found; it must be at "
        "{tmp}/no-data/mnist/MNIST/raw/train-images-idx3-ubyte; fetch it once with `discrimbench data "
        "prepare mnist --download --data-root {tmp}/no-data` (torchvision downloads it) or place the "
        "official files there",
    ),
    (
        "real-on-digits",
        {"noises": {"real": {"rates": [0.0]}}},
        "noises.real: cannot run on dataset 'digits' (noises it takes: idn, pairflip, permute-block, "
        "sym-excl, sym-incl)",
    ),
    (
        "mlflow-proc",
        {"storage": {"mlflow": "file:///proc/nope"}},
        "storage.mlflow: the MLflow file store '/proc/nope' is not writable (/proc is on a read-only proc "
        "filesystem)",
    ),
    (
        "sqlite-missing-dir",
        {"storage": {"optuna": "sqlite:////missing/dir/x.db"}},
        "storage.optuna: 'sqlite:////missing/dir/x.db': the folder '/missing/dir' does not exist (SQLite "
        "creates the file, not its folder)",
    ),
    (
        "threads-huge",
        {"training": {**CPU, "threads": 10**12}},
        "training.threads=1000000000000: need 1 <= threads <= 1024 (torch's thread pool",
    ),
    (
        "mnist1d-huge",
        {"datasets": {"mnist1d": {"num_samples": 10**12}}},
        "datasets.mnist1d: dataset 'mnist1d' option num_samples=1000000000000 is not allowed; need an "
        "integer with 20 <= num_samples <= 1,000,000 (generated data is held in memory)",
    ),
    (
        "epochs-times-samples",
        {"datasets": {"mnist1d": {"num_samples": 10**6}}, "training": {**CPU, "epochs": 50_000}},
        "datasets.mnist1d: epochs × samples = 50,000 × 1,000,000 exceeds 1,000,000,000 sample passes per "
        "run (days of compute); lower training.epochs or the dataset's size",
    ),
    (
        "seed-huge",
        {"seeds": [10**23]},
        "seeds=[100000000000000000000000]: seeds must satisfy 0 <= seed <= 2**62",
    ),
    (
        "out-under-a-file",
        {"out": "{tmp}/a-file/out"},
        "--out: the output folder '{tmp}/a-file/out' cannot be created: {tmp}/a-file is not a folder",
    ),
]


def _fill(value: Any, tmp: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, dict):
        return {k: _fill(v, tmp) for k, v in value.items()}
    return value


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("mode", ["dry-run", "real"])
def test_dry_run_and_real_run_refuse_alike_and_write_nothing(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict, expected: str, mode: str
) -> None:
    work = tmp_path / "cwd"
    study = write_study(tmp_path / "in", _fill(changes, tmp_path))
    (tmp_path / "a-file").write_text("")
    work.mkdir()
    monkeypatch.chdir(work)
    before = _files(tmp_path)
    argv = ["run", str(study), "--quiet", "--no-report"]
    if "out" not in changes:
        argv += ["--out", str(tmp_path / "out")]
    if mode == "dry-run":
        argv.append("--dry-run")
    code, stdout, stderr = cli(*argv)
    assert code == 2, stdout + stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith(f"discrimbench run: error: {study}: {_fill(expected, tmp_path)}"), stderr
    assert _files(tmp_path) == before  # nothing in --out, the cwd or anywhere under the test folder


def test_a_clean_study_passes_preflight_in_both_modes(cli, tmp_path: Path) -> None:
    """The oracle for the cases above: the same study without the change is accepted."""
    code, stdout, stderr = cli("run", str(write_study(tmp_path)), "--out", str(tmp_path / "o"), "--dry-run")
    assert code == 0 and "dry run: nothing was written" in stdout, stderr
    assert SMALL["name"] in stdout
