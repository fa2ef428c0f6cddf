"""Budget health: the checks flag a starved run and pass a converged one; constant or collapsed weights
never yield an AUROC (0.500 by ties) in results.csv, the report's tables or MLflow; failing cells are
named on the command line, in the report's banner and on the MLflow parent run."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmark.health import COLLAPSE_CV, plateau, run_health, weight_spread
from benchmark.runs import RunSpec
from benchmark.training import train_run


def _run(method: str, epochs: int, rate: float = 0.4, params: dict | None = None):
    spec = RunSpec(
        dataset="digits", rate=rate, method=method, seed=1, device="cpu", epochs=epochs, params=params or {}
    )
    return train_run(spec)


def test_a_starved_one_epoch_run_fails_and_a_converged_run_passes() -> None:
    starved = _run("ce", 1)
    assert starved.health["converged"] is False
    assert any("too few to see a plateau" in f for f in starved.health["failures"])
    converged = _run("ce", 40)
    assert converged.health["failures"] == [] and converged.health["converged"] is True
    assert converged.health["clean_last"] > 90.0  # the clean part of the training set is learnt


def test_a_schedule_past_the_epochs_is_flagged() -> None:
    result = _run("coteaching", 5)  # R(T) ramps over T_k = 10 epochs
    assert result.health["schedules_finished"] is False
    assert "schedule forget_ramp ends at epoch 10, after the 5 epochs" in result.health["failures"]


def test_collapsed_discrimloss_weights_are_flagged_and_have_no_auroc() -> None:
    """σ squeezed between clamp_min = 2.995 and ln 20 = 2.9957: every weight 1/σ is about 0.05."""
    result = _run("discrimloss", 10, params={"clamp_min": 2.995})
    weights = result.sample_weights
    assert float(weights.std()) / float(abs(weights.mean())) < COLLAPSE_CV
    assert result.health["weights_collapsed"] is True
    assert any(f.startswith("per-sample weights collapsed") for f in result.health["failures"])
    assert math.isnan(result.auroc_noisy_clean) and math.isnan(result.auroc_noisy_hard)  # not 0.500
    assert math.isnan(result.history[-1]["diag/auroc_noisy_clean"])


def test_varied_weights_keep_their_auroc() -> None:
    result = _run("superloss", 10)
    assert result.health["weights_collapsed"] is False
    assert 0.5 < result.auroc_noisy_clean <= 1.0


def test_weight_spread_is_the_coefficient_of_variation() -> None:
    assert float(weight_spread(torch.tensor([1.0, 3.0]))) == pytest.approx(0.5)  # std 1, mean 2
    assert float(weight_spread(torch.full((5,), 0.3))) == 0.0
    assert float(weight_spread(torch.tensor([2.0]))) == 0.0


@pytest.mark.parametrize(
    ("values", "higher", "expected"),
    [
        ([10, 50, 80, 90, 91, 91.5], True, True),  # last 2 epochs: +1.5 of +81.5
        ([10, 20, 30, 40, 50, 60], True, False),  # last 2 epochs: +20 of +50 > 25 %
        ([2.0, 1.0, 0.5, 0.45, 0.44], False, True),
        ([2.0, 1.9, 1.8, 1.7, 1.0], False, False),
        ([50, 60, 55, 54], True, True),  # got worse at the end: not improving any more
        ([50, 60], True, False),  # too short to tell
    ],
)
def test_plateau(values: list[float], higher: bool, expected: bool) -> None:
    assert plateau(values, higher)[0] is expected


def test_run_health_of_a_hand_made_history() -> None:
    rows = [
        {"train/loss": 2.0 - 0.1 * e, "train/acc_clean": 50 + e, "diag/weight_spread": 0.5} for e in range(10)
    ]
    health = run_health(rows, "acc", 10, {"ramp": 4.0, "late": 10.0}, weights_constant=False)
    assert health["schedules_finished"] is False and health["converged"] is False
    assert health["failures"][0] == "schedule late ends at epoch 10, after the 10 epochs"
    rows[-1]["diag/weight_spread"] = 0.0
    assert run_health(rows, "acc", 10, {}, weights_constant=False)["weights_collapsed"] is True
    assert run_health(rows, "acc", 10, {}, weights_constant=True)["weights_collapsed"] is None


def test_a_falling_clean_part_is_memorisation_under_noise_and_instability_without() -> None:
    rows = [{"train/loss": 1.0 / (e + 1), "train/acc_clean": 95.0 - (e >= 8) * 6.0} for e in range(10)]
    noisy = run_health(rows, "acc", 10, {}, weights_constant=True, corrupted=True)
    clean = run_health(rows, "acc", 10, {}, weights_constant=True, corrupted=False)
    assert noisy["failures"] == [] and noisy["converged"] is True
    assert noisy["notes"] == [
        "clean-part training acc fell from 95.0 to 89.0 (memorisation of the corrupted labels)"
    ]
    assert (
        clean["failures"] == ["clean-part training acc fell from 95.0 to 89.0"]
        and clean["converged"] is False
    )


def test_a_collapse_on_clean_labels_is_a_note_not_a_failure() -> None:
    """SuperLoss fitting a clean training set puts every σ* at e: nothing to tell apart, nothing failed."""
    rows = [
        {"train/loss": 1.0 / (e + 1), "train/acc_clean": 99.0, "diag/weight_spread": 0.0} for e in range(10)
    ]
    noisy = run_health(rows, "acc", 10, {}, weights_constant=False, corrupted=True)
    clean = run_health(rows, "acc", 10, {}, weights_constant=False, corrupted=False)
    assert noisy["failures"] == ["per-sample weights collapsed (spread 0)"] and noisy["notes"] == []
    assert clean["failures"] == [] and clean["weights_collapsed"] is True
    assert clean["notes"] == ["per-sample weights collapsed (spread 0) on clean labels"]


def _search_runs(out: Path) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    try:
        return mlflow.search_runs(experiment_names=["tiny"])
    finally:
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def starved_study(tmp_path_factory: pytest.TempPathFactory, tiny_config: dict) -> tuple[Path, str]:
    """A 1-epoch study of untruncated GCE, run through the CLI with MLflow and the report."""
    import subprocess
    import sys

    import yaml

    folder = tmp_path_factory.mktemp("starved")
    config = {**tiny_config, "methods": ["gce"], "noises": {"sym-excl": {"rates": [0.4]}}, "seeds": [1]}
    (folder / "s.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "run", str(folder / "s.yaml"), "--out", str(folder / "out"),
         "--quiet"],
        capture_output=True, text=True, check=True, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    return folder / "out", proc.stderr


def test_no_auroc_for_constant_weights_in_csv_table_and_mlflow(starved_study: tuple[Path, str]) -> None:
    out, _ = starved_study
    frame = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert frame["auroc_noisy_clean"].eq("").all() and frame["auroc_noisy_hard"].eq("").all()
    md = (out / "report" / "report.md").read_text()
    health_rows = [line for line in md.splitlines() if line.startswith("| digits/sym-excl/0.4/gce")]
    assert len(health_rows) == 1 and "| — |" in health_rows[0] and "0.500" not in md
    runs = _search_runs(out)
    children = runs[runs["tags.discrimbench.role"].isin(["trial", "repeat"])]
    assert len(children) >= 2 and "metrics.train/acc_clean" in runs.columns
    for col in ("metrics.diag/auroc_noisy_clean", "metrics.diag/auroc_noisy_hard"):
        assert col not in runs.columns or runs[col].isna().all()


def test_a_starved_study_is_flagged_everywhere(starved_study: tuple[Path, str]) -> None:
    out, stderr = starved_study
    frame = pd.read_csv(out / "results.csv")
    row = frame.iloc[0]
    assert (row["trials_completed"], row["trials_pruned"], row["trials_failed"]) == (2, 0, 0)
    assert row["won_by"] in ("defaults", "draw 1") and bool(row["converged"]) is False
    assert "too few to see a plateau" in row["health"]
    assert "WARNING: budget health: 1 cell(s) fail a check" in stderr
    assert "digits/sym-excl/0.4/gce: " in stderr and "not evidence about the method" in stderr
    md = (out / "report" / "report.md").read_text()
    assert md.index("> **WARNING: budget health") < md.index("Budget health") < md.index("Results per cell")
    html = (out / "report" / "report.html").read_text()
    assert 'id="health-banner"' in html
    runs = _search_runs(out)
    parent = runs[runs["tags.discrimbench.role"] == "cell"].iloc[0]
    assert parent["tags.discrimbench.health"] == "fail"
    assert "too few to see a plateau" in parent["tags.discrimbench.health_failures"]
    assert (
        parent["metrics.health/trials_completed"] == 2.0
        and parent["metrics.health/runs_not_converged"] == 1.0
    )


def test_train_warns_on_stderr_for_a_starved_run(cli) -> None:
    code, out, err = cli("train", "--dataset", "digits", "--rate", "0.4", "--epochs", "1", "--device", "cpu")
    assert code == 0
    assert "budget health" in out and "WARNING: budget health: 1 run(s) fail a check" in err
    code, _, err = cli("train", "--dataset", "digits", "--epochs", "40", "--device", "cpu")
    assert code == 0 and "WARNING" not in err


def test_a_model_at_chance_on_the_clean_part_learnt_nothing() -> None:
    rows = [{"train/loss": 1.0, "train/acc_clean": 12.0, "diag/weight_spread": 0.5} for _ in range(10)]
    health = run_health(rows, "acc", 10, {}, weights_constant=False, num_classes=10)
    assert health["converged"] is False  # 12 % < 10 + 0.25 · 90 = 32.5 %
    assert health["failures"] == ["clean-part training acc 12.0 is near chance (10.0): nothing learnt"]
    rows = [dict(r, **{"train/acc_clean": 33.0}) for r in rows]
    assert run_health(rows, "acc", 10, {}, weights_constant=False, num_classes=10)["failures"] == []
