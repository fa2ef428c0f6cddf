"""``--protocol paper-official``: a paper-* preset re-run with the official per-cell hyperparameters fixed
(no tuning, the paper's selection rule), labelled in results.csv, MLflow and the report, and joined with
the published numbers beside the tuned row."""

from __future__ import annotations

import csv
import io
import json
import math
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark.config import load_study
from benchmark.data._adapter import DATA_ENV
from benchmark.report.reference import compare_references
from tests.data.fixtures import write_cifar10

OFFICIAL_KEYS = ("clamp_min", "lr_inst_param", "a", "p", "q", "wd_inst_param")


def _csv_row(dataset: str, rate: float) -> dict[str, str]:
    text = (resources.files("benchmark") / "presets" / "official-discrimloss-params.csv").read_text()
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["dataset"] == dataset and r["task_loss"] == ""]
    (row,) = [r for r in rows if math.isclose(float(r["rate"]), rate)]
    return row


def test_paper_mnist_official_cells_fix_the_csv_values_and_the_test_rule() -> None:
    study = load_study("paper-mnist", protocols=["tuned", "paper-official"])
    official = [c for c in study.cells if c.protocol == "paper-official"]
    tuned = [c for c in study.cells if c.protocol == "tuned"]
    assert len(official) == len(tuned) == 5 * 5  # rates × methods, once each
    for cell in official:
        assert cell.cell_id.endswith("@paper-official")
        assert (cell.space, cell.budget, cell.selection) == ({}, 1, "test-oracle")
        assert cell.noise_params["rng"] == "official"
        if cell.method != "discrimloss":
            assert (cell.fixed, cell.official) == ({}, False)  # paper defaults, labelled as such
            continue
        row = _csv_row("MNIST", cell.rate)
        assert cell.official
        assert {k: cell.fixed[k] for k in OFFICIAL_KEYS} == {k: float(row[k]) for k in OFFICIAL_KEYS}
        assert cell.fixed["sup_eps"] == int(row["sup_eps"])
        assert cell.defaults["lr_inst_param"] == float(row["lr_inst_param"])  # the one trial runs them
    assert all(c.selection == "noisy-val" and "rng" not in c.noise_params for c in tuned)
    assert {c.protocol for c in load_study("paper-mnist").cells} == {"tuned"}  # the default


def test_dry_run_shows_the_official_plan(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cifar10(tmp_path)  # the dry run checks that the data is there, as the real run does
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    code, out, err = cli("run", "paper-cifar10", "--protocol", "paper-official", "--dry-run")
    assert code == 0, err
    assert (
        "protocol paper-official" in out
        and "selection test-oracle  <-- the epoch is picked on the TEST set" in out
    )
    lines = out.splitlines()
    at = next(i for i, x in enumerate(lines) if "cifar10/permute-block/0.4/discrimloss@paper-official" in x)
    assert "1 trials" in lines[at] and "the official values" in lines[at]
    assert "lr_inst_param=2.609431898226351" in lines[at + 1]  # the fixed line: full precision
    assert "cifar10/permute-block/0.4/discrimloss:" not in out  # no tuned cell
    assert "dry run: nothing was written" in out


@pytest.fixture(scope="module")
def official_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """paper-digitsum shrunk to seconds (tiny data, fast recipe, 2 epochs), both protocols, via the CLI."""
    from benchmark.cli import main

    folder = tmp_path_factory.mktemp("official")
    preset = yaml.safe_load((resources.files("benchmark") / "presets" / "paper-digitsum.yaml").read_text())
    preset.update(
        datasets={"digitsum": {"per_length": 8, "max_len": 4, "n_val": 8, "n_test": 8}},
        noises={"permute-block": {"rates": [0.4]}},
        methods=["ce", "discrimloss"],
        seeds=[1],
        tuning={"n_trials": 2, "selection": "noisy-val"},
        training={"recipe_kind": "fast", "epochs": 2, "device": "cpu", "threads": 1},
    )
    path = folder / "paper-digitsum-tiny.yaml"
    path.write_text(yaml.safe_dump(preset))
    assert main(["run", str(path), "--protocol", "both", "--out", str(folder / "out"), "--quiet"]) == 0
    return folder / "out"


def test_official_run_is_labelled_in_results_mlflow_and_report(official_run: Path) -> None:
    from mlflow.tracking import MlflowClient

    results = pd.read_csv(official_run / "results.csv")
    assert sorted(zip(results["method"], results["protocol"], strict=True)) == [
        ("ce", "paper-official"), ("ce", "tuned"),
        ("discrimloss", "paper-official"), ("discrimloss", "tuned"),
    ]  # fmt: skip
    row = results[(results["method"] == "discrimloss") & (results["protocol"] == "paper-official")].iloc[0]
    params = json.loads(row["params"])
    official = _csv_row("DigitSum", 0.4)
    assert {k: params[k] for k in OFFICIAL_KEYS} == {k: float(official[k]) for k in OFFICIAL_KEYS}
    assert (params["k_mode"], params["k_value"], params["sup_eps"]) == ("fixed", 0.5, 3)
    assert row["n_trials"] == 1 and row["selection"] == "noisy-val"  # DigitSum's rule: best validation epoch

    client = MlflowClient(tracking_uri=f"sqlite:///{official_run / 'mlflow.db'}")
    exp = client.get_experiment_by_name("paper-digitsum")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    by_protocol = pd.Series([r.data.tags.get("discrimbench.protocol") for r in runs]).value_counts().to_dict()
    assert by_protocol == {"tuned": 2 + 1 + 2 + 2, "paper-official": 2 + 2 + 2}  # cells, trials, repeats

    report = (official_run / "report" / "report.md").read_text()
    assert "discrimloss [paper-official]" in report and "ce [paper-official]" in report


def test_reference_join_lists_both_protocols_side_by_side() -> None:
    """One published row, two reproduced cells (tuned and paper-official): two joined rows."""
    cell = {
        "dataset": "mnist", "noise": "permute-block", "rate": 0.4, "metric": "acc", "n_seeds": 5,
        "test_oracle_mean": 98.0, "test_oracle_lo": 97.5, "test_oracle_hi": 98.5,
    }  # fmt: skip
    summary = pd.DataFrame(
        [
            {**cell, "method": "discrimloss"},
            {**cell, "method": "discrimloss [paper-official]", "test_oracle_mean": 98.4},
        ]
    )
    refs = pd.DataFrame(
        [{
            "source": "notes", "dataset": "mnist", "noise": "permute-block", "rate": 0.4,
            "method": "discrimloss", "metric": "acc", "mean": 98.55, "std": 0.1, "model": "lenet",
            "epochs": 20, "selection_rule": "best-test-epoch", "variant": "",
        }]
    )  # fmt: skip
    joined, rejected, _ = compare_references(summary, refs, {"mnist": "lenet"}, {"mnist": 20.0})
    assert rejected.empty
    assert list(joined["method"]) == ["discrimloss", "discrimloss [paper-official]"]
    assert list(joined["reproduced"]) == [98.0, 98.4]
