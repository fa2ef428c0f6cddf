"""``discrimbench train`` end to end through ``benchmark.cli.main``: the --json schema, --out files, the
summary table, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.commands.train import parse_overrides
from benchmark.errors import StudyConfigError
from benchmark.runs import RunResult

BASE = [
    "train", "--dataset", "synthetic-hard", "--noise", "sym-excl", "--rate", "0.4", "--seed", "1",
    "--epochs", "2", "--device", "cpu", "--set", "data.n_train=200", "--set", "data.n_test=50",
    "--set", "recipe.batch_size=64", "--set", "recipe.model_kwargs.hidden=[8]",
]  # fmt: skip


def test_json_output_is_one_object_with_the_run_result_schema(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main([*BASE, "--method", "gce", "--set", "q=0.5", "--json", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert len(out.strip().splitlines()) == 1
    result = json.loads(out)
    fields = {f.name for f in dataclasses.fields(RunResult)} - {"sample_weights", "hardness"}
    assert set(result) == fields
    assert result["status"] == "ok" and result["metric"] == "acc" and len(result["history"]) == 2
    assert result["spec"]["params"] == {"q": 0.5}
    assert result["spec"]["dataset_kwargs"] == {"n_train": 200, "n_test": 50}
    assert result["extra"]["recipe"]["model_kwargs"]["hidden"] == [8]
    assert result["extra"]["method_params"]["q"] == 0.5
    # --out wrote the same result, the per-epoch history and the final weights
    assert json.loads((tmp_path / "result.json").read_text()) == result
    with (tmp_path / "history.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["test/acc"]) for r in rows] == [h["test/acc"] for h in result["history"]]
    weights = np.load(tmp_path / "sample_weights.npy")
    assert weights.shape == (result["extra"]["n_train"],)


def test_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--method", "ce"]) == 0
    out = capsys.readouterr().out
    assert "synthetic-hard / sym-excl 0.4 / ce / seed 1" in out
    assert "test acc (ORACLE" in out and "samples / s" in out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--set", "recipe.lrr=0.1"], "recipe.lrr is not a recipe field (allowed: model,"),
        (["--set", "recipe.optimizer=rmsprop"], "recipe.optimizer='rmsprop' is not allowed"),
        (["--set", "qq=0.5", "--method", "gce"], "gce.qq is not a hyperparameter of gce"),
        (["--set", "q=7", "--method", "gce"], "gce.q=7"),
        (["--set", "oops"], "--set 'oops': expected NAME=VALUE"),
        (["--set", "model.x=1"], "unknown prefix 'model'"),
        (["--method", "discrimlos"], "Did you mean 'discrimloss'"),
        (["--device", "tpu"], "device='tpu'"),
        (
            ["--set", "recipe.model_kwargs.depth=3"],
            "recipe.model_kwargs.depth is not an option of model 'mlp'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    assert main([*BASE, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("discrimbench train: error:")
    assert needle in lines[0]


def test_diverging_run_exits_1_with_failed_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--set", "recipe.lr=1e12", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "failed" and "epoch 0" in result["reason"]


def test_parse_overrides_routes_prefixes() -> None:
    got = parse_overrides(["q=0.7", "method.k=1e-3", "recipe.milestones=[2, 4]", "noise.std=2", "data.n=5"])
    assert got == {
        "method": {"q": 0.7, "k": 0.001},
        "recipe": {"milestones": [2, 4]},
        "data": {"n": 5},
        "noise": {"std": 2},
    }
    with pytest.raises(StudyConfigError, match="cannot read the value"):
        parse_overrides(["q=[1, 2"])
