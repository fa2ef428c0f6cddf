"""A newcomer's first hour (issue 15), through the CLI: ``list`` without argument, close matches for every
``--set`` key, output locations checked before any work, a result never lost to a failed write, the
missing-dataset instructions, damaged results.csv files, and what the console shows during a study."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmark.registry import DATASETS, METHODS, MODELS, NOISES, load_builtin_components

from ._helpers import ENV, snapshot, write_study

CLI = Callable[..., tuple[int, str, str]]
TRAIN = [
    "train", "--dataset", "synthetic-hard", "--seed", "1", "--epochs", "1", "--device", "cpu",
    "--set", "data.n_train=120", "--set", "data.n_test=40", "--set", "recipe.model_kwargs.hidden=[4]",
]  # fmt: skip


def _one_error_line(code: int, out: str, err: str, command: str) -> str:
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"discrimbench {command}: error: "), err
    return lines[0]


def test_list_without_argument_lists_every_registry(cli: CLI) -> None:
    code, out, err = cli("list")
    assert code == 0 and err == ""
    load_builtin_components()
    for kind, registry in (("methods", METHODS), ("datasets", DATASETS), ("noises", NOISES),
                           ("models", MODELS)):  # fmt: skip
        assert f"\n{kind}:\n" in f"\n{out}"
        for name in registry.names():
            assert f"\n  {name} " in out
    code, out, _ = cli("list", "--json")
    tables = json.loads(out)
    assert code == 0 and list(tables) == ["methods", "datasets", "noises", "models"]
    for kind, rows in tables.items():
        assert json.loads(cli("list", kind, "--json")[1]) == rows


@pytest.mark.parametrize(
    ("extra", "meant"),
    [
        (["--method", "gce", "--set", "qq=0.5"], "q"),
        (["--method", "discrimloss", "--set", "method.clamp_mn=0.1"], "clamp_min"),
        (["--set", "recipe.lrr=0.1"], "lr"),
        (["--set", "recipe.model_kwargs.hiden=[3]"], "hidden"),
        (["--set", "data.n_trian=50"], "n_train"),
        (["--noise", "idn", "--rate", "0.2", "--set", "noise.norm_sd=0.1"], "norm_std"),
        (["--set", "recip.lr=0.1"], "recipe"),
    ],
)
def test_every_set_key_names_its_close_match(cli: CLI, extra: list[str], meant: str) -> None:
    code, out, err = cli(*TRAIN, *extra)
    line = _one_error_line(code, out, err, "train")
    assert out == "" and f"; did you mean {meant!r}" in line and line.endswith("?")


def test_train_out_unwritable_is_refused_before_training(cli: CLI, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = (("/proc/x", "cannot write /proc/x:"), (f"{a_file}/sub", "is a file, not a folder"))
    for out_dir, needle in cases:
        code, out, err = cli(*TRAIN, "--out", out_dir)
        line = _one_error_line(code, out, err, "train")
        assert out == "" and needle in line and "pass another --out" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_result_that_cannot_be_written_is_printed_and_copied(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder was writable when checked and is gone (a file in its place) when the run ends."""
    import benchmark.training

    out_dir = tmp_path / "out"
    real_train_run = benchmark.training.train_run

    def train_then_lose_the_folder(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real_train_run(*args, **kwargs)
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.write_text("in the way")
        return result

    monkeypatch.setattr(benchmark.training, "train_run", train_then_lose_the_folder)
    code, out, err = cli(*TRAIN, "--out", str(out_dir), "--json")
    err = err[err.index("discrimbench train: error: ") :]  # after the budget-health warning of a 1-epoch run
    line = _one_error_line(code, out, err, "train")
    printed = json.loads(out)
    assert printed["status"] == "ok"
    assert f"cannot write {out_dir / 'result.json'}" in line and "the result is printed above" in line
    copy = Path(line.rsplit("a copy is in ", 1)[1])
    try:
        assert json.loads((copy / "result.json").read_text()) == printed
        assert (copy / "history.csv").read_text().count("\n") == 2  # header + one epoch
    finally:
        shutil.rmtree(copy)
    assert out_dir.read_text() == "in the way"


def test_missing_dataset_for_train_writes_nothing_and_names_the_command(cli: CLI, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    code, out, err = cli("train", "--dataset", "cifar10", "--data-root", str(tmp_path / "data"),
                         "--out", str(out_dir))  # fmt: skip
    line = _one_error_line(code, out, err, "train")
    assert str(tmp_path / "data" / "cifar10" / "cifar-10-batches-py" / "data_batch_1") in line
    assert f"`discrimbench data prepare cifar10 --download --data-root {tmp_path / 'data'}`" in line
    assert list(tmp_path.iterdir()) == []


def test_missing_dataset_for_a_study_writes_nothing_and_names_the_command(cli: CLI, tmp_path: Path) -> None:
    data = tmp_path / "data"
    training = {"epochs": 1, "data_root": str(data)}
    study = write_study(tmp_path, {"datasets": {"cifar10": {}}, "methods": ["ce"], "training": training})
    code, out, err = cli("run", str(study), "--out", str(tmp_path / "out"))
    line = _one_error_line(code, out, err, "run")
    assert f"`discrimbench data prepare cifar10 --download --data-root {data}`" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yaml"]


def test_data_prepare_download_to_unwritable_root_fails_before_fetching(cli: CLI, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for root in ("/proc/x", str(a_file)):
        code, out, err = cli("data", "prepare", "mnist", "--download", "--data-root", root)
        line = _one_error_line(code, out, err, "data")
        assert f"cannot write {root}/mnist" in line and "pass another --data-root" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_report_out_unwritable_is_refused_before_any_work(cli: CLI, finished_study: Path) -> None:
    before = snapshot(finished_study)
    code, out, err = cli("report", str(finished_study), "--out", "/proc/nope")
    line = _one_error_line(code, out, err, "report")
    assert "cannot write /proc/nope:" in line and "pass another --out" in line
    assert snapshot(finished_study) == before


def _results_lines(finished_study: Path) -> list[str]:
    return (finished_study / "results.csv").read_text().splitlines()


@pytest.mark.parametrize("damage", ["truncated", "header-only", "empty"])
def test_damaged_results_csv_is_one_line_naming_file_and_row(
    cli: CLI, finished_study: Path, tmp_path: Path, damage: str
) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    lines = _results_lines(finished_study)
    assert len(lines) == 5  # header + 2 cells × 2 seeds
    text = {
        "truncated": "\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2],  # a copy cut short
        "header-only": lines[0] + "\n",
        "empty": "",
    }[damage]
    (folder / "results.csv").write_text(text)
    code, out, err = cli("report", str(folder))
    line = _one_error_line(code, out, err, "report")
    path = folder / "results.csv"
    expected = {
        "truncated": f"{path}, line 4: ",
        "header-only": f"{path} has a header but no rows",
        "empty": f"{path} is empty",
    }[damage]
    assert expected in line
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv"]


def test_study_console_results_on_stdout_progress_on_stderr(tmp_path: Path) -> None:
    """Finished cells are results (stdout); under tox everything on stderr is red. The report phase shows
    its progress, and MLflow's per-artifact download bars stay hidden (the user did not ask for them)."""
    study = write_study(
        tmp_path, {"methods": ["ce", "superloss"], "tuning": {"n_trials": 1, "sampler_seed": 3}}
    )
    env = {k: v for k, v in ENV.items() if k != "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", "run", str(study), "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    cell_lines = [line for line in done.stdout.splitlines() if line.startswith("done ")]
    assert [line.split(":")[0] for line in cell_lines] == [
        "done digits/sym-excl/0.4/ce",
        "done digits/sym-excl/0.4/superloss",
    ]
    assert "done " not in done.stderr
    assert "tuning curves from Optuna" in done.stderr  # the report's progress bar named its steps
    assert "Downloading artifacts" not in done.stderr
    assert (tmp_path / "out" / "report" / "figures" / "weights_digits_sym-excl_0.4.png").is_file()


@pytest.mark.parametrize(("no_color", "red"), [(None, True), ("1", False)])
def test_errors_are_red_on_a_terminal_unless_no_color(no_color: str | None, red: bool) -> None:
    import pty

    env = {k: v for k, v in ENV.items() if k not in ("NO_COLOR", "TERM")}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmark", "list", "nope"],
            env=env, stdout=subprocess.PIPE, stderr=follower, timeout=120,
        )  # fmt: skip
        os.close(follower)
        err = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
    assert done.returncode == 2 and "discrimbench list: error: argument what: invalid choice: 'nope'" in err
    assert ("\x1b[31m" in err) is red
    assert done.stdout == b""


def test_output_piped_into_a_reader_that_leaves_is_no_traceback() -> None:
    """``discrimbench list --json | head -1``: the pipe is closed before the command writes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "list", "--json"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and err == ""


def test_report_file_that_cannot_be_replaced_fails_cleanly_and_leaves_no_half_file(
    cli: CLI, finished_study: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    (out / "report.html").mkdir(parents=True)  # a folder where the page must go: the rename fails
    code, stdout, err = cli("report", str(finished_study), "--out", str(out))
    line = _one_error_line(code, stdout, err, "report")
    assert f"cannot write {out / 'report.html'}" in line
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# DiscrimBench report")
    assert (out / "report.html").is_dir() and not list(out.glob(".*.tmp"))
