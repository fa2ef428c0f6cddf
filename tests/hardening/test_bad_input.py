"""Bad input: fuzzed study files and ``--set`` values never give a traceback (one line, exit 2, nothing
written); unknown names get suggestions; impossible combinations are refused before anything runs."""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._helpers import SMALL, run_subprocess, write_study

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(string.printable, max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(string.ascii_lowercase, max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
# key paths of the study file that a fuzzed value replaces (unknown keys included)
PATHS = [
    ("name",), ("datasets",), ("datasets", "digits"), ("datasets", "digits", "n_train"), ("noises",),
    ("noises", "sym-excl"), ("noises", "sym-excl", "rates"), ("noises", "sym-excl", "params"), ("methods",),
    ("seeds",), ("tuning",), ("tuning", "n_trials"), ("tuning", "pruner"), ("tuning", "selection"),
    ("training",), ("training", "epochs"), ("training", "device"), ("training", "recipe"),
    ("training", "recipe", "lr"), ("storage",), ("storage", "optuna"), ("bogus",), ("tuning", "bogus"),
]  # fmt: skip


def _replace(study: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = yaml.safe_load(yaml.safe_dump(study))  # a deep copy
    node = out
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return out


def _assert_one_line(code: int, err: str, command: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"discrimbench {command}: error: ") or lines[0].startswith("discrimbench"), err
    assert "Traceback" not in err


def _dumpable(value: Any) -> bool:
    try:
        yaml.safe_dump(value)
    except yaml.YAMLError:
        return False
    return True


@FUZZ
@given(path=st.sampled_from(PATHS), value=values)
def test_fuzzed_study_values_give_one_line_or_a_plan(cli, tmp_path_factory, path, value) -> None:
    """Any value at any key: a valid plan (dry run) or one error line with exit 2; never a traceback, and
    nothing is written either way."""
    folder = tmp_path_factory.mktemp("fuzz")
    study = folder / "study.yaml"
    study.write_text(yaml.safe_dump(_replace(SMALL, path, value)))
    code, _, err = cli("run", str(study), "--out", str(folder / "out"), "--dry-run")
    if code != 0:
        _assert_one_line(code, err, "run")
    assert not (folder / "out").exists()


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    value=st.sampled_from([-1, 0, -0.5, 1.0, 2, math.inf, math.nan, "x", [], {}, None, True, [1.5], "1e999"]),
)
def test_fuzzed_invalid_study_is_refused_before_anything_is_written(
    cli, tmp_path_factory, path, value
) -> None:
    """A real run (no --dry-run) of a study with a bad value writes no output folder when it is refused."""
    folder = tmp_path_factory.mktemp("fuzz-run")
    study = folder / "study.yaml"
    study.write_text(yaml.safe_dump(_replace(SMALL, path, value)))
    dry, _, _ = cli("run", str(study), "--out", str(folder / "dry"), "--dry-run")
    if dry == 0:
        return  # a valid study (e.g. a harmless name): running it is not what this test checks
    code, _, err = cli("run", str(study), "--out", str(folder / "out"), "--quiet")
    _assert_one_line(code, err, "run")
    assert not (folder / "out").exists()


@FUZZ
@given(text=st.text(max_size=200))
def test_fuzzed_study_text(cli, tmp_path_factory, text: str) -> None:
    folder = tmp_path_factory.mktemp("fuzz-text")
    study = folder / "study.yaml"
    study.write_bytes(text.encode("utf-8", errors="replace"))
    code, _, err = cli("run", str(study), "--out", str(folder / "out"), "--quiet")
    _assert_one_line(code, err, "run")
    assert not (folder / "out").exists()


SET_NAMES = ["q", "method.q", "recipe.lr", "recipe.batch_size", "recipe.model_kwargs.width", "data.n_train",
             "noise.bogus", "bogus.x", "recipe.", "", "recipe.optimizer"]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(SET_NAMES),
    text=st.sampled_from(["-1", "0", "1e9", "nan", "inf", "[", "{a: 1}", "abc", "''", "~", "-1e-3", "[1, 2]"])
    | st.text(string.printable, max_size=10),
)
def test_fuzzed_set_values_never_give_a_traceback(cli, tmp_path_factory, name: str, text: str) -> None:
    folder = tmp_path_factory.mktemp("fuzz-set")
    out = folder / "out"
    code, _, err = cli(
        "train", "--dataset", "digits", "--method", "gce", "--rate", "0.2", "--epochs", "1",
        "--device", "cpu", "--set", "recipe.model_kwargs.width=4", "--set", f"{name}={text}",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert code in (0, 1, 2), err
    if code == 2:
        _assert_one_line(code, err, "train")
        assert not out.exists()


def test_errors_are_one_line_in_a_fresh_process_too(tmp_path: Path) -> None:
    study = write_study(tmp_path, {"noises": {"sym-excl": {"rates": [1.5]}}})
    done = run_subprocess(["run", str(study), "--out", str(tmp_path / "out")])
    _assert_one_line(done.returncode, done.stderr, "run")
    assert "rate" in done.stderr and "1.5" in done.stderr
    done = run_subprocess(["train", "--dataset", "digits", "--set", "recipe.lr=[", "--epochs", "1"])
    _assert_one_line(done.returncode, done.stderr, "train")
    assert not (tmp_path / "out").exists()


# ---- names and impossible combinations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"methods": ["ce", "discrimlos"]}, ["discrimlos", "discrimloss"]),
        ({"datasets": {"digitz": {}}}, ["digitz", "digits"]),
        ({"noises": {"sym-exl": {"rates": [0.2]}}}, ["sym-exl", "sym-excl"]),
    ],
)
def test_unknown_names_get_suggestions(cli, tmp_path: Path, changes: dict, needles: list[str]) -> None:
    study = write_study(tmp_path, changes)
    code, _, err = cli("run", str(study), "--out", str(tmp_path / "out"))
    _assert_one_line(code, err, "run")
    for needle in needles:
        assert needle in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        # a classification noise on a regression dataset
        ({"datasets": {"digitsum": {}}, "methods": ["ce"]}, ["sym-excl", "regression"]),
        # 10 classes: sym-excl cannot flip more than (C-1)/C = 0.9 of the labels; pairflip stops below 0.5
        ({"noises": {"sym-excl": {"rates": [0.95]}}}, ["sym-excl", "0.95"]),
        ({"noises": {"pairflip": {"rates": [0.5]}}}, ["pairflip", "0.5"]),
        # Co-teaching's forget rate must stay below 1
        ({"methods": {"coteaching": {"fixed": {"forget_rate": 1.0}}}}, ["forget_rate"]),
    ],
)
def test_impossible_combinations_are_refused_before_anything_runs(
    cli, tmp_path: Path, changes: dict, needles: list[str]
) -> None:
    study = write_study(tmp_path, changes)
    code, _, err = cli("run", str(study), "--out", str(tmp_path / "out"))
    _assert_one_line(code, err, "run")
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "out").exists()
