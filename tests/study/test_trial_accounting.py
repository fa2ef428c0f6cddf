"""Trial accounting with real SQLite Optuna storages and pruners that prune hard: the budget counts
COMPLETED trials, pruned ones are extra and capped, and no trial is pruned before its warm-up."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

import benchmark.study.ledger as study_module
from benchmark.tuning import TrialCounts, prune_warmup


class _EveryOtherTrial(optuna.pruners.BasePruner):
    """Prunes every odd-numbered trial at the first epoch it is asked about."""

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return trial.number % 2 == 1


def _always() -> optuna.pruners.BasePruner:
    return optuna.pruners.ThresholdPruner(lower=1e9)  # accuracy is never above 1e9: prunes when asked


def _run(write_study, cli, tmp_path: Path, monkeypatch, pruner, method: str, tuning: dict, **extra) -> list:
    monkeypatch.setattr(study_module, "make_pruner", lambda kind, n_startup_trials=1: pruner)
    changes = {
        "methods": {method: extra.get("method_spec", {})},
        "noises": {"sym-excl": {"rates": [0.4]}},
        "seeds": [1],
        "tuning": {"sampler_seed": 0, **tuning},
        "training": {"epochs": extra.get("epochs", 3), "device": "cpu", "threads": 1},
    }
    out = tmp_path / "out"
    code, _, err = cli(
        "run",
        str(write_study(changes)),
        "--out",
        str(out),
        "--no-report",
        "--quiet",
        "--tracking-uri",
        "none",
    )
    assert code == 0, err
    return optuna.load_study(
        study_name=f"tiny/digits/sym-excl/0.4/{method}/tune", storage=f"sqlite:///{out / 'optuna.db'}"
    ).get_trials()


def _states(trials: list) -> list[str]:
    return [t.state.name for t in sorted(trials, key=lambda t: t.number)]


def test_pruned_trials_are_extra_and_the_budget_counts_completed(write_study, cli, tmp_path, monkeypatch):
    tuning = {"n_trials": 3, "prune_startup_trials": 1, "prune_warmup_fraction": 0.0}
    trials = _run(write_study, cli, tmp_path, monkeypatch, _EveryOtherTrial(), "gce", tuning)
    assert _states(trials) == ["COMPLETE", "PRUNED", "COMPLETE", "PRUNED", "COMPLETE"]
    assert trials[0].params == {"q": 0.7}  # the paper defaults first


def test_an_always_pruning_pruner_stops_at_the_cap(write_study, cli, tmp_path, monkeypatch):
    tuning = {"n_trials": 3, "max_extra_trials": 4, "prune_startup_trials": 1, "prune_warmup_fraction": 0.0}
    trials = _run(write_study, cli, tmp_path, monkeypatch, _always(), "gce", tuning)
    assert _states(trials) == ["COMPLETE"] + ["PRUNED"] * 4  # cannot loop forever
    assert all(max(t.intermediate_values) == 0 for t in trials[1:])  # pruned at the first epoch asked


def test_no_pruning_before_the_pruner_has_enough_completed_trials(write_study, cli, tmp_path, monkeypatch):
    tuning = {"n_trials": 3, "prune_startup_trials": 2, "prune_warmup_fraction": 0.0}
    trials = _run(write_study, cli, tmp_path, monkeypatch, _always(), "gce", tuning)
    assert _states(trials) == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED", "PRUNED"]


def test_no_pruning_before_the_methods_schedule_has_run(write_study, cli, tmp_path, monkeypatch):
    """Co-teaching's R(T) ramp ends at T_k = 3 (schedule_epochs): epochs 0–3 always run."""
    tuning = {"n_trials": 2, "max_extra_trials": 2, "prune_startup_trials": 1, "prune_warmup_fraction": 0.0}
    spec = {"fixed": {"num_gradual": 3}}
    trials = _run(
        write_study, cli, tmp_path, monkeypatch, _always(), "coteaching", tuning, epochs=6, method_spec=spec
    )
    assert _states(trials) == ["COMPLETE", "PRUNED", "PRUNED"]
    assert [sorted(t.intermediate_values) for t in trials[1:]] == [[0, 1, 2, 3, 4]] * 2


def test_a_schedule_past_the_last_epoch_is_never_pruned(write_study, cli, tmp_path, monkeypatch):
    tuning = {"n_trials": 2, "prune_startup_trials": 1, "prune_warmup_fraction": 0.0}
    spec = {"fixed": {"num_gradual": 10}}  # ramp ends after the 3 epochs
    trials = _run(write_study, cli, tmp_path, monkeypatch, _always(), "coteaching", tuning, method_spec=spec)
    assert _states(trials) == ["COMPLETE", "COMPLETE"]


@pytest.mark.parametrize(
    ("schedule", "epochs", "fraction", "expected"),
    [
        ({}, 10, 0.0, 0),
        ({}, 10, 0.25, 3),
        ({"ramp": 3.0}, 10, 0.0, 4),
        ({"es": 3, "gamma": 12.7}, 20, 0.25, 13),
    ],
)
def test_prune_warmup(schedule: dict, epochs: int, fraction: float, expected: int) -> None:
    assert prune_warmup(schedule, epochs, fraction) == expected


def test_trial_counts_open_and_finished() -> None:
    assert TrialCounts(completed=2, running=1).open(3, 3) is False  # the running one may complete it
    assert TrialCounts(completed=2, running=1).finished(3, 3) is False
    assert TrialCounts(completed=2, pruned=1).open(3, 3) is True
    assert TrialCounts(completed=1, pruned=2, failed=1).open(3, 3) is False  # cap of extras spent
    assert TrialCounts(completed=1, pruned=2, failed=1).finished(3, 3) is True
    assert TrialCounts(completed=3, pruned=5).finished(3, 3) is True
    assert TrialState.PRUNED.is_finished()
