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
