"""The ``sweeps:`` section through the CLI: bad grids, unknown names and values outside a method's range are
one line on stderr, exit 2 and nothing written, identically for ``--dry-run`` and the real run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.cli import main
from benchmark.config import load_study, resolve_study
from benchmark.errors import StudyConfigError

STUDY: dict[str, Any] = {
    "name": "sweep-check",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.2, 0.4]}},
    "methods": ["ce"],
    "seeds": [1, 2],
    "training": {"epochs": 1, "device": "cpu", "threads": 1},
}

BAD = [
    (
        {"method": "discrimlos", "grid": {"a": [0.1]}},
        "sweeps.s.method: unknown method 'discrimlos'. Did you mean 'discrimloss'",
    ),
    (
        {"method": "discrimloss", "grid": {"lr_inst": [0.1]}},
        "sweeps.s.grid.lr_inst=0.1: discrimloss.lr_inst is not a hyperparameter of discrimloss; "
        "did you mean 'lr_inst_param'",
    ),
    (
        {"method": "discrimloss", "grid": {"a": [-0.1, 0.2]}},
        "sweeps.s.grid.a=-0.1: discrimloss.a=-0.1: Input should be greater than or equal to 0",
    ),
    (
        {"method": "gce", "grid": {"q": {"low": 0.5, "high": 1.5, "steps": 3}}},
        "sweeps.s.grid.q=1.5: gce.q=1.5: Input should be less than or equal to 1",
    ),
    (
        {"method": "discrimloss", "grid": {"a": {"low": 0.3, "high": 0.1, "steps": 3}}},
        "sweeps.s.grid.a: low (0.3) must be below high (0.1)",
    ),
    (
        {"method": "discrimloss", "grid": {"a": {"low": 0.1, "high": 0.3}}},
        "sweeps.s.grid.a: a range needs 'steps'",
    ),
    ({"method": "discrimloss", "grid": {"a": []}}, "sweeps.s.grid.a: the list of values is empty"),
    (
        {"method": "discrimloss", "grid": {"p": {"low": 0, "high": 1.0, "steps": 3, "scale": "log"}}},
        "sweeps.s.grid.p: a log range needs low > 0",
    ),
    (
        {"method": "discrimloss", "grid": {"a": [0.1], "p": [1.0], "q": [3]}},
        "sweeps.s.grid: expected one or two hyperparameters",
    ),
    ({"method": "discrimloss", "grid": {}}, "sweeps.s.grid: expected one or two hyperparameters"),
    (
        {"method": "discrimloss", "base": "paperr", "grid": {"a": [0.1]}},
        "sweeps.s.base='paperr': not a preset of discrimloss; did you mean 'paper'",
    ),
    (
        {"method": "discrimloss", "base": {"b": 1}, "grid": {"a": [0.1]}},
        "sweeps.s.base: discrimloss.b is not a hyperparameter",
    ),
    (
        {"method": "discrimloss", "base": "tuned", "grid": {"a": [0.1]}},
        "sweeps.s.base: 'tuned' needs 'discrimloss' under methods:",
    ),
    (
        {"method": "gce", "grid": {"q": [0.5]}, "rate": [0.2]},
        "sweeps.s.rate: unknown key; did you mean 'rates'",
    ),
    (
        {"method": "gce", "grid": {"q": [0.5]}, "rates": [0.3]},
        "sweeps.s.rates: 0.3 is not a noise rate of the study (0.2, 0.4)",
    ),
    ({"method": "gce", "grid": {"seed": [1, 2]}}, "sweeps.s.grid.seed: 'seed' is not a hyperparameter"),
    ({"grid": {"q": [0.5]}}, "sweeps.s.method: required key missing"),
]


def _write(tmp_path: Path, sweep: Any) -> tuple[Path, Path]:
    out = tmp_path / "out"
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "out": str(out), "sweeps": {"s": sweep}}, sort_keys=False))
    return path, out


@pytest.mark.parametrize(
    ("sweep", "message"), BAD, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(BAD)]
)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_bad_sweep_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sweep: Any, message: str, dry_run: bool
) -> None:
    path, out = _write(tmp_path, sweep)
    code = main(["run", str(path), *(["--dry-run"] if dry_run else ["--quiet"])])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0], lines[0]
    assert not out.exists()


def test_a_pair_valid_alone_but_not_together_is_refused() -> None:
    """clamp_min = -1 is a valid log-σ bound and clamp_space = sigma is valid with the default bound, but a
    σ bound must be positive: only the pair's point is invalid."""
    grid = {"clamp_space": ["log", "sigma"], "clamp_min": [-1.0, 0.5]}
    study = {**STUDY, "sweeps": {"s": {"method": "discrimloss", "grid": grid}}}
    with pytest.raises(StudyConfigError) as info:
        resolve_study(study)
    assert "sweeps.s.grid {'clamp_space': 'sigma', 'clamp_min': -1.0}: discrimloss.clamp_min=-1.0" in str(
        info.value
    )


def test_cells_of_a_valid_sweep(tmp_path: Path) -> None:
    sweeps = {
        "dl-a": {"method": "discrimloss", "base": "paper", "grid": {"a": [0.2, 0.27, 0.35]}},
        "dl-ap": {
            "method": "discrimloss",
            "base": {"lr_inst_param": 1.0},
            "grid": {"a": [0.1, 0.3], "p": {"low": 0.1, "high": 10, "steps": 3, "scale": "log"}},
            "rates": [0.4],
        },
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "sweeps": sweeps}))
    study = load_study(str(path))
    assert [c.cell_id for c in study.sweeps] == [
        "digits/sym-excl/0.2/discrimloss@sweep-dl-a",
        "digits/sym-excl/0.4/discrimloss@sweep-dl-a",
        "digits/sym-excl/0.4/discrimloss@sweep-dl-ap",
    ]
    dl_a, _, dl_ap = study.sweeps
    assert dl_a.points == [{"a": 0.2}, {"a": 0.27}, {"a": 0.35}]
    assert dl_a.budget == 3 * 2 and dl_a.fixed["q"] == 60 and dl_a.base == "paper"
    assert dl_ap.points == [
        {"a": 0.1, "p": 0.1}, {"a": 0.1, "p": 1.0}, {"a": 0.1, "p": 10.0},
        {"a": 0.3, "p": 0.1}, {"a": 0.3, "p": 1.0}, {"a": 0.3, "p": 10.0},
    ]  # fmt: skip
    assert dl_ap.fixed == {"lr_inst_param": 1.0} and dl_ap.defaults["a"] == pytest.approx(
        0.2739, abs=1e-4
    )  # the defaults under it
    assert dl_ap.slot({"a": 0.3, "p": 1.0}, 2) == 4 * 2 + 1
    assert [c.cell_id for c in study.cells] == [
        "digits/sym-excl/0.2/ce",
        "digits/sym-excl/0.4/ce",
    ]  # sweeps are not tuned cells


def test_dry_run_lists_every_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweeps = {
        "dl-ap": {"method": "discrimloss", "base": "paper", "rates": [0.4],
                  "grid": {"a": [0.1, 0.3], "p": {"low": 0.1, "high": 10, "steps": 3, "scale": "log"}}},
        "gce-q": {"method": "gce", "grid": {"q": [0.3, 0.7]}},
    }  # fmt: skip
    path = tmp_path / "s.yaml"
    out = tmp_path / "out"
    path.write_text(yaml.safe_dump({**STUDY, "out": str(out), "sweeps": sweeps}))
    assert main(["run", str(path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 2 cells + 3 sweep cells, seeds [1, 2]")
    i = lines.index(
        "sweep dl-ap: method discrimloss, base paper; a = [0.1, 0.3]; p = [0.1, 1, 10] (log); 6 grid points "
        "x 2 seeds [1, 2] x 1 cell = 12 runs"
    )
    assert lines[i + 1] == "      cells digits/sym-excl/0.4"
    assert lines[i + 2] == (
        "sweep gce-q: method gce, base defaults; q = [0.3, 0.7]; 2 grid points x 2 seeds [1, 2] x 2 cells "
        "= 8 runs"
    )
    assert lines[i + 3] == "      cells digits/sym-excl/0.2, digits/sym-excl/0.4"
    assert "total runs: 26 (20 of them sweep runs)" in lines  # CE: 2 × (1 trial + 2 seeds)
    assert not out.exists()


def test_sensitivity_paper_cifar10_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU preset validates (its CIFAR-10 files stood in by empty ones: the dry run checks only that
    they are there) and plans the official ablation-box ranges around configuration C."""
    from benchmark.data._adapter import DATA_ENV, get_adapter
    from benchmark.registry import load_builtin_components

    load_builtin_components()
    for file in get_adapter("cifar10").required_files(tmp_path / "data"):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.touch()
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    study = load_study("sensitivity-paper-cifar10", out=str(tmp_path / "out"))
    assert study.config.tuning.selections() == ["noisy-val"]
    grids = {c.sweep: c.points for c in study.sweeps if c.rate == 0.4}
    assert [p["a"] for p in grids["paper-a"]] == pytest.approx([0.2, 0.23, 0.26, 0.29, 0.32, 0.35])
    assert [p["p"] for p in grids["paper-p"]] == pytest.approx([0.35, 0.42, 0.49, 0.56, 0.63, 0.7])
    assert [p["q"] for p in grids["paper-q"]] == [45, 50, 55, 60, 65, 70, 75]
    official = {"a": 0.2739100024784782, "p": 0.5441169600504865, "q": 60}  # configuration C, spec a.5
    for cell in study.sweeps:
        assert cell.base == "paper" and cell.method == "discrimloss" and cell.noise == "permute-block"
        assert cell.noise_params == {"rng": "official"}  # the official label draw
        assert {k: cell.defaults[k] for k in official} == official
    assert sorted({c.rate for c in study.sweeps}) == [0.2, 0.4, 0.6]
    assert sum(c.budget for c in study.sweeps) == 19 * 3 * 3
    assert main(["run", "sensitivity-paper-cifar10", "--dry-run", "--out", str(tmp_path / "out")]) == 0
    assert not (tmp_path / "out").exists()
