"""Study-file validation: every bad input is one StudyConfigError line (exit 2) and nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmark.config import load_study, preset_names
from benchmark.errors import StudyConfigError
from benchmark.registry import DATASETS, load_builtin_components


def _refused(cli, write_study, tmp_path: Path, changes=None, text=None) -> str:  # type: ignore[no-untyped-def]
    path = write_study(changes, text=text)
    out = tmp_path / "out"
    code, _stdout, stderr = cli("run", str(path), "--out", str(out))
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("discrimbench run: error: ")
    assert not out.exists()
    return stderr


def test_unknown_key_names_its_path(cli, write_study, tmp_path) -> None:
    err = _refused(cli, write_study, tmp_path, {"tuning": {"n_trails": 3}})
    assert "tuning.n_trails: unknown key" in err


def test_unknown_names_get_suggestions_and_all_errors_are_collected(cli, write_study, tmp_path) -> None:
    err = _refused(
        cli,
        write_study,
        tmp_path,
        {"methods": ["discrimlos", "gce"], "noises": {"sym-exl": {"rates": [0.2]}}},
    )
    assert "methods.discrimlos: unknown method 'discrimlos'. Did you mean 'discrimloss'" in err
    assert "noises.sym-exl: unknown noise 'sym-exl'. Did you mean 'sym-excl'" in err


def test_bad_search_range(cli, write_study, tmp_path) -> None:
    err = _refused(cli, write_study, tmp_path, {"methods": {"gce": {"search": {"q": [0.9, 0.2]}}}})
    assert "methods.gce.search.q=[0.9, 0.2]: low <= high must hold, got low=0.9, high=0.2" in err


def test_search_of_an_unknown_hyperparameter(cli, write_study, tmp_path) -> None:
    err = _refused(
        cli, write_study, tmp_path, {"methods": {"discrimloss": {"search": {"tanh_a": [0.2, 0.3]}}}}
    )
    assert "methods.discrimloss.search.tanh_a" in err and "is not a hyperparameter of discrimloss" in err


def test_search_bound_outside_the_params_model(cli, write_study, tmp_path) -> None:
    err = _refused(cli, write_study, tmp_path, {"methods": {"gce": {"search": {"q": [0.5, 1.5]}}}})
    assert "methods.gce.search.q: bound 1.5 is invalid" in err


def test_coteaching_forget_rate_of_one_is_refused(cli, write_study, tmp_path) -> None:
    err = _refused(cli, write_study, tmp_path, {"methods": {"coteaching": {"fixed": {"forget_rate": 1.0}}}})
    assert "methods.coteaching.fixed" in err and "forget_rate" in err


def test_rate_the_generator_cannot_realise(cli, write_study, tmp_path) -> None:
    err = _refused(cli, write_study, tmp_path, {"noises": {"pairflip": {"rates": [0.2, 0.6]}}})
    assert "noises.pairflip (dataset digits, rate 0.6)" in err and "cannot realise rate=0.6" in err


def test_classification_noise_and_method_on_a_regression_dataset(cli, write_study, tmp_path) -> None:
    err = _refused(cli, write_study, tmp_path, {"datasets": {"digitsum": {}}})
    assert "noises.sym-excl (dataset digitsum, rate 0)" in err
    assert "classification tasks only" in err


def test_schema_errors(cli, write_study, tmp_path) -> None:
    err = _refused(
        cli, write_study, tmp_path, {"seeds": [1, 1], "tuning": {"n_trials": 0, "pruner": "eager"}}
    )
    assert "seeds=[1, 1]: seeds must be unique" in err
    assert "tuning.n_trials=0" in err and "tuning.pruner='eager'" in err


def test_malformed_yaml_names_file_and_line(cli, write_study, tmp_path) -> None:
    err = _refused(cli, write_study, tmp_path, text="name: x\ndatasets: [digits\nseeds: [1]\n")
    assert "study.yaml:3:" in err and "malformed YAML" in err


def test_unknown_preset_suggests(cli) -> None:
    code, _, err = cli("run", "quik", "--dry-run")
    assert code == 2 and "Did you mean 'quick'?" in err


def test_search_narrowing_keeps_the_kind(write_study) -> None:
    # DiscrimLoss names the tanh amplitude ``a`` (the brief's ``tanh_a``)
    path = write_study({"methods": {"discrimloss": {"search": {"a": [0.2, 0.35]}, "fixed": {"sup_eps": 3}}}})
    study = load_study(str(path))
    cell = next(c for c in study.cells if c.method == "discrimloss")
    assert (cell.space["a"].low, cell.space["a"].high) == (0.2, 0.35)
    assert cell.space["lr_inst_param"].log  # the rest of the default space stays
    assert "sup_eps" not in cell.space and cell.defaults["sup_eps"] == 3


def test_cells_order_clean_ce_first(write_study) -> None:
    study = load_study(str(write_study({"methods": ["gce", "ce"]})))
    assert [c.cell_id for c in study.cells] == [
        "digits/sym-excl/0/ce",
        "digits/sym-excl/0/gce",
        "digits/sym-excl/0.4/gce",
        "digits/sym-excl/0.4/ce",
    ]
    assert [c.budget for c in study.cells] == [1, 2, 2, 1]


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_validates_in_a_dry_run(preset: str, cli, tmp_path) -> None:
    from importlib import resources

    import yaml

    load_builtin_components()
    raw = yaml.safe_load((resources.files("benchmark") / "presets" / f"{preset}.yaml").read_text())
    missing = [d for d in raw["datasets"] if d not in DATASETS]
    if missing:
        pytest.skip(f"datasets {missing} are not registered in this checkout yet")
    out = tmp_path / "preset-out"
    code, stdout, stderr = cli("run", preset, "--dry-run", "--out", str(out))
    absent = [d for d in raw["datasets"] if not _present(d)]
    if absent:  # the dry run refuses what the real run could not load
        assert code == 2 and f"datasets.{absent[0]}: dataset {absent[0]!r}: " in stderr, stderr
        assert "not found; it must be at" in stderr, stderr  # the adapter's message: what, where, how
    else:
        assert code == 0, stderr
        assert "dry run: nothing was written" in stdout
    assert not out.exists()


def _present(dataset: str) -> bool:
    from benchmark.data._adapter import get_adapter, resolve_data_root

    return get_adapter(dataset).is_present(resolve_data_root())


def test_quick_preset_plan() -> None:
    study = load_study("quick")
    assert len(study.cells) == 2 * 2 * 5  # digits, mnist1d × rates 0, 0.4 × five methods
    assert sorted({c.rate for c in study.cells}) == [0.0, 0.4]
    assert study.config.tuning.n_trials == 8  # issue 13: at least 8 completed trials per tunable cell
    assert {c.method for c in study.cells} == {"ce", "gce", "superloss", "coteaching", "discrimloss"}
    assert study.config.seeds == [1, 2, 3]


def test_dry_run_writes_nothing(cli, write_study, tmp_path) -> None:
    out = tmp_path / "never"
    code, stdout, _ = cli("run", str(write_study()), "--dry-run", "--out", str(out))
    assert code == 0
    assert "digits/sym-excl/0.4/gce: 2 trials + 2 repeats" in stdout
    assert "selection: noisy-val" in stdout and str(out) in stdout
    assert not out.exists()


def test_test_oracle_is_labelled_in_the_dry_run(cli, write_study, tmp_path) -> None:
    path = write_study({"tuning": {"n_trials": 2, "selection": ["noisy-val", "test-oracle"]}})
    code, stdout, _ = cli("run", str(path), "--dry-run", "--out", str(tmp_path / "x"))
    assert code == 0 and "tunes on the TEST set" in stdout
    assert "digits/sym-excl/0/gce@test-oracle" in stdout


def test_load_study_raises_the_error_type() -> None:
    with pytest.raises(StudyConfigError):
        load_study("no-such-preset")


def test_dry_run_names_every_hyperparameter_searched_or_fixed(cli, tmp_path) -> None:
    """Each Params field of every quick cell appears once: in its 'search' line or its 'fixed' line."""
    from benchmark.registry import METHODS

    code, stdout, _ = cli("run", "quick", "--dry-run", "--out", str(tmp_path / "x"))
    assert code == 0
    assert "the paper defaults (it samples nothing)" in stdout
    lines = stdout.splitlines()
    for cell in load_study("quick").cells:
        at = lines.index(next(line for line in lines if line.startswith(f"  {cell.cell_id}:")))
        search, fixed = lines[at].split("; search ", 1)[1], lines[at + 1].strip()
        assert fixed.startswith("fixed ")
        for name in METHODS.get(cell.method).Params.model_fields:
            in_search = re.search(rf"(^|\), ){name}=", search) is not None
            in_fixed = re.search(rf"(^|, ){name}=", fixed[6:]) is not None
            assert in_search != in_fixed, (cell.cell_id, name)
