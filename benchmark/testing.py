"""Checks a test (or a user auditing a distributed run) can make on a finished study's Optuna storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from benchmark.study.parents import CLAIM_SUFFIX

__all__ = ["assert_each_slot_and_seed_once", "describe_storage", "without_health_warning"]


def assert_each_slot_and_seed_once(storage: Any, budgets: Mapping[str, int], seeds: Sequence[int]) -> None:
    """Every tuning slot of every cell COMPLETE exactly once and every seed's repeat stored exactly once.

    Surplus trials (a worker that raced past the budget) are ignored, as the runner ignores them.

    Args:
        storage: an Optuna storage or its URL.
        budgets: method name → tuning budget of its cells.
        seeds: the study's seeds.
    """
    for summary in optuna.get_all_study_summaries(storage):
        if summary.study_name.endswith(CLAIM_SUFFIX):
            continue  # a parent-run claim (shared storages): no trials
        trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
        real = [t for t in trials if not t.user_attrs.get("discrimbench.surplus")]
        if summary.study_name.endswith("/repeats"):
            done = [t.params["seed"] for t in real if "discrimbench.result" in t.user_attrs]
            assert sorted(done) == sorted(seeds), summary.study_name
        else:
            complete = [t for t in real if t.state == optuna.trial.TrialState.COMPLETE]
            slots = sorted(t.user_attrs["discrimbench.slot"] for t in complete)
            method = summary.study_name.split("/")[-2]
            assert slots == list(range(budgets[method])), f"{summary.study_name}: {_describe(trials)}"


def describe_storage(storage: Any) -> str:
    """Every study of ``storage`` with its trials (see :func:`_describe`), for a test that failed or timed
    out on a distributed run: what each worker left behind."""
    lines = []
    for summary in optuna.get_all_study_summaries(storage):
        trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
        lines.append(f"{summary.study_name}: {_describe(trials)}")
    return "\n".join(lines)


def _describe(trials: Sequence[optuna.trial.FrozenTrial]) -> str:
    """Each trial's number, state, slot, surplus mark, owner and retry history, for a failed assertion."""
    keys = ("discrimbench.slot", "discrimbench.surplus", "discrimbench.owner", "retry_history")
    return "; ".join(
        f"#{t.number} {t.state.name} "
        + " ".join(f"{k.split('.')[-1]}={t.user_attrs.get(k, t.system_attrs.get(k))}" for k in keys)
        for t in trials
    )


def without_health_warning(stderr: str) -> str:
    """``stderr`` without the budget-health warning block (its header and indented cell lines).

    Tests that run deliberately starved studies (1-2 epochs, for speed) expect that warning and assert
    on everything else a command printed.
    """
    kept: list[str] = []
    in_block = False
    for line in stderr.splitlines():
        if line.startswith("WARNING: budget health:"):
            in_block = True
            continue
        if in_block and line.startswith("  "):
            continue
        in_block = False
        kept.append(line)
    return "\n".join(kept)
