"""A study's method entries: presets, overrides beside them, several labels for one method; every bad
entry is one line, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from baselines.discrimloss import DiscrimLoss
from baselines.gce import GCE
from benchmark.cli import main
from benchmark.config import resolve_study

STUDY: dict[str, Any] = {
    "name": "entries",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.4]}},
    "seeds": [1],
    "tuning": {"n_trials": 2},
    "training": {"epochs": 1, "device": "cpu", "threads": 1},
}


def cells(methods: dict[str, Any]) -> dict[str, Any]:
    """cell id → cell of a study with these ``methods``."""
    return {c.cell_id: c for c in resolve_study({**STUDY, "methods": methods}).cells}


def test_the_ablation_table_is_one_study() -> None:
    """discrimloss under its paper preset and each ablation, by label: the preset's values fixed, nothing
    searched (one trial each), the registered method kept, the label in the cell id."""
    ablations = ["ablation-no-es", "ablation-no-ema", "ablation-gak", "ablation-fixk"]
    methods: dict[str, Any] = {"discrimloss": {"preset": "paper"}}
    methods |= {f"discrimloss-{a}": {"method": "discrimloss", "preset": a} for a in ablations}
    got = cells(methods)
    assert sorted(got) == sorted(f"digits/sym-excl/0.4/{label}" for label in methods)
    presets = DiscrimLoss.presets()
    for label, entry in methods.items():
        cell = got[f"digits/sym-excl/0.4/{label}"]
        assert cell.method == "discrimloss" and cell.method_label == label
        assert cell.fixed == presets[entry["preset"]]
        assert cell.space == {} and cell.budget == 1
        assert cell.defaults == DiscrimLoss.make_params(presets[entry["preset"]]).model_dump()
    assert got["digits/sym-excl/0.4/discrimloss-ablation-no-es"].defaults["use_es"] is False


def test_an_override_beside_a_preset_wins_and_the_rest_of_the_space_is_searched() -> None:
    cell = cells({"gce": {"preset": "truncated", "q": 0.6}})["digits/sym-excl/0.4/gce"]
    assert cell.fixed == {**GCE.presets()["truncated"], "q": 0.6}
    assert cell.defaults["q"] == 0.6 and cell.defaults["truncated"] is True
    assert cell.space == {}  # q was gce's only searched parameter
    searched = cells({"gce": {"preset": "truncated", "search": {"q": [0.3, 0.9]}}})["digits/sym-excl/0.4/gce"]
    assert "q" not in searched.fixed and searched.fixed["truncated"] is True
    assert searched.space["q"].low == 0.3 and searched.budget == 2


def test_entries_without_presets_are_unchanged() -> None:
    got = cells({"ce": {}, "gce": {"fixed": {"q": 0.5}}})
    assert got["digits/sym-excl/0.4/ce"].label == "ce" and got["digits/sym-excl/0.4/ce"].fixed == {}
    assert got["digits/sym-excl/0.4/gce"].fixed == {"q": 0.5}


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ({"discrimloss": {"preset": "ablation-no-e"}},
         "methods.discrimloss.preset: discrimloss has no preset 'ablation-no-e'; did you mean 'ablation-no-"),
        ({"gce": {"preset": "truncated", "qq": 0.6}},
         "methods.gce.qq: not a hyperparameter of gce nor a method option; did you mean 'q'?"),
        ({"gce": {"preset": "truncated", "q": 1.5}}, "methods.gce.fixed: gce.q=1.5: Input should be less"),
        ({"gce-x": {"method": "gcee"}}, "methods.gce-x.method: unknown method 'gcee'. Did you mean 'gce'"),
        ({"ce": {}, "gce": {"method": "ce"}}, "methods.gce: the label names another registered method"),
        ({"GCE x": {"method": "gce"}}, "methods.GCE x: a label is 1-100 characters"),
        ({"gce": {"q": 0.5, "fixed": {"q": 0.6}}}, "methods.gce: 'q' is given both beside"),
        ({"gce": {"q": 0.5, "search": {"q": [0.2, 0.4]}}}, "methods.gce: 'q' is both fixed and searched"),
    ],
)  # fmt: skip
def test_a_bad_entry_is_one_line_exit_2_and_nothing_is_written(
    methods: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({**STUDY, "methods": methods}, sort_keys=False))
    out = tmp_path / "out"
    code = main(["run", str(study), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("discrimbench run: error: "), err
    assert message in err, err
    assert not out.exists()
