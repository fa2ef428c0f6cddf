"""``discrimbench data describe|prepare`` and ``list datasets|noises``: output, one-line errors, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.data import prepare
from data import fixtures  # tests/data is a package; pytest puts tests/ on sys.path

REPO = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_describe_embedded_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "data", "describe", "digits", "--json")
    info = json.loads(out)
    assert code == 0 and info["num_classes"] == 10 and info["task"] == "classification"
    assert info["embedded"] and info["present"] and info["input_shape"] == [1, 8, 8]
    assert set(info["noises"]) == {"idn", "pairflip", "permute-block", "sym-excl", "sym-incl"}
    assert info["recipes"]["fast"]["model"] == "mlp" and "paper" not in info["recipes"]


def test_describe_real_dataset_presence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "data", "describe", "mnist", "--data-root", str(tmp_path))
    assert code == 0 and "present:       no" in out and str(tmp_path / "mnist" / "MNIST" / "raw") in out
    assert "recipe paper: lenet, sgd lr 0.1, wd 0.0005, constant, 20 epochs, batch 128" in out
    fixtures.write_mnist(tmp_path)
    _, out, _ = _run(capsys, "data", "describe", "mnist", "--data-root", str(tmp_path), "--json")
    assert json.loads(out)["present"] is True
    _, out, _ = _run(capsys, "data", "describe", "clothing1m", "--json")
    assert json.loads(out)["noises"] == ["real"]


def test_prepare_prints_the_same_manifest_as_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "data", "prepare", "digits", "--noise", "pairflip", "--rate", "0.3", "--seed", "1", "--json"
    )
    info = json.loads(out)
    direct = prepare("digits", "pairflip", 0.3, seed=1)
    assert code == 0 and info["noisy_labels_sha256"] == direct.noisy_labels_sha256
    assert info["realised_rate"] == pytest.approx(direct.realised_rate)
    assert info["sizes"] == {"train": 1294, "val": 144, "test": 359}
    code, out, _ = _run(
        capsys, "data", "prepare", "mnist1d", "--set", "num_samples=200", "--noise", "idn", "--rate", "0.2"
    )
    assert code == 0 and "sizes:               {'train': 144, 'val': 16, 'test': 40}" in out


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["data", "describe", "cifar11"], ["unknown dataset 'cifar11'", "Did you mean 'cifar10'"]),
        (
            ["data", "prepare", "digits", "--rate", "0.95"],
            ["'sym-excl' cannot realise rate=0.95", "rate <= 0.9"],
        ),
        (["data", "prepare", "digits", "--noise", "pairflip", "--rate", "0.5"], ["allowed: 0 <= rate < 0.5"]),
        (
            ["data", "prepare", "digitsum", "--noise", "pairflip", "--rate", "0.2"],
            ["classification tasks only"],
        ),
        (
            ["data", "prepare", "digits", "--noise", "gaussian", "--rate", "0.2"],
            ["'gaussian' applies to regression"],
        ),
        (["data", "prepare", "digits", "--noise", "asym-cifar100", "--rate", "0.2"], ["needs 100 classes"]),
        (["data", "prepare", "digits", "--set", "test_fraction=2"], ["test_fraction=2 is not allowed"]),
        (["data", "prepare", "digits", "--recipe", "paper"], ["recipe_kind='paper' is not available"]),
    ],
)
def test_errors_are_one_line_and_exit_2(
    argv: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("discrimbench data: error: ")
    for needle in needles:
        assert needle in err


def test_missing_dataset_through_the_console_script(tmp_path: Path) -> None:
    env = {**os.environ, "DISCRIMBENCH_DATA": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "data", "prepare", "cifar10", "--rate", "0.2"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(tmp_path / "cifar10" / "cifar-10-batches-py") in lines[0] and "--download" in lines[0]


def test_list_registers_everything(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "list", "noises", "--json")
    assert sorted(json.loads(out)) == [
        "asym-cifar10", "asym-cifar100", "gaussian", "idn", "pairflip",
        "permute-block", "real", "sym-excl", "sym-incl",
    ]  # fmt: skip
    _, out, _ = _run(capsys, "list", "datasets", "--json")
    assert {
        "digits",
        "mnist1d",
        "digitsum",
        "synthetic-hard",
        "mnist",
        "cifar10",
        "cifar100",
        "utkface",
    } <= set(json.loads(out))
    assert {"clothing1m", "wikihow", "cifar10n", "cifar100n"} <= set(json.loads(out))
