"""Optuna: storages, a per-slot seeded TPE sampler, pruners, search spaces, the trial budget and recovery.

Budget accounting. Every cell gets the same number of *budget slots* (``tuning.n_trials``; 1 when a
method has nothing to search: its single trial is the paper defaults, more would re-run identical
configurations). A trial takes the next slot when it starts; COMPLETE, PRUNED and FAIL trials all keep
their slot. Two kinds of trials hold no slot: *stale* ones (their worker died; a WAITING retry with the
same parameters inherits the slot) and *surplus* ones (a worker raced past the budget; recorded FAIL with
``discrimbench.surplus`` and ignored everywhere).

Determinism. The sampler draws slot ``k`` with a TPE seeded from ``(sampler_seed, k)``, so a study that
was killed and resumed suggests exactly what an uninterrupted one would (TPE ignores FAIL trials).
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from baselines._base import Choice, Distribution, FloatRange, IntRange
from benchmark.errors import TrackingError

__all__ = [
    "ATTR",
    "SlotSeededSampler",
    "budget_trials",
    "claim_slot",
    "make_pruner",
    "open_storage",
    "owner_id",
    "recover_dead_trials",
    "suggest",
]

ATTR = {
    "owner": "discrimbench.owner",
    "slot": "discrimbench.slot",
    "surplus": "discrimbench.surplus",
    "reason": "discrimbench.reason",
    "status": "discrimbench.status",
    "result": "discrimbench.result",
    "mlflow": "discrimbench.mlflow_run_id",
    "seed": "discrimbench.seed",
    "interrupted": "discrimbench.interrupted",
}

optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own lines say what failed and why
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def owner_id() -> str:
    """``host:pid`` of this process, recorded on every trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_rdb_url(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in {"postgresql", "postgres", "mysql", "sqlite"}


def open_storage(url: str, *, heartbeat_interval: int = 10, grace_period: int = 60) -> BaseStorage:
    """The Optuna storage for ``url``.

    ``sqlite:///…`` (one process), ``postgresql://…`` / ``mysql://…`` (many workers; heartbeat and a
    retry of stale trials), ``journal:///abs/path`` or a path ending in ``.journal`` (a journal file shared
    by the local ``--workers``).

    Raises:
        TrackingError: the storage cannot be opened.
    """
    try:
        if url.startswith("journal://") or url.endswith(".journal"):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            path = Path(url.removeprefix("journal://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        if url.startswith("sqlite"):
            return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        if is_rdb_url(url):
            from optuna.storages import RetryHeartbeatStaleTrialCallback

            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=None),
                engine_kwargs={"pool_pre_ping": True},
            )
    except Exception as exc:
        from benchmark.tracking import mask_url

        raise TrackingError(f"cannot open Optuna storage {mask_url(url)}: {exc}") from None
    raise TrackingError(
        f"storage URL {url!r} is not supported; use sqlite:///FILE, postgresql://USER:PASS@HOST/DB, "
        "mysql://…, journal:///PATH or a PATH ending in .journal"
    )


class SlotSeededSampler(BaseSampler):
    """TPE whose randomness for budget slot ``k`` is seeded from ``(seed, k)``.

    Args:
        seed: the study's sampler seed.
        n_startup_trials: random trials before TPE models the history (Optuna's default is 10).
    """

    def __init__(self, seed: int, n_startup_trials: int = 10) -> None:
        self.seed = int(seed)
        self.n_startup_trials = n_startup_trials
        self._cache: dict[int, TPESampler] = {}

    def _for(self, trial: FrozenTrial) -> TPESampler:
        slot = int(trial.user_attrs.get(ATTR["slot"], trial.number))
        if slot not in self._cache:
            seed = int(np.random.SeedSequence([self.seed, slot]).generate_state(1)[0])
            self._cache[slot] = TPESampler(seed=seed, n_startup_trials=self.n_startup_trials)
        return self._cache[slot]

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:  # determinism comes from the slot, nothing to reseed
        return None


def make_pruner(kind: str, n_startup_trials: int = 1) -> optuna.pruners.BasePruner:
    """``median`` / ``hyperband`` (epoch-level) or ``none``."""
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    return optuna.pruners.NopPruner()


def suggest(trial: optuna.Trial, space: Mapping[str, Distribution]) -> dict[str, Any]:
    """Draw every hyperparameter of ``space`` (sorted names, so the draw order is stable)."""
    values: dict[str, Any] = {}
    for name in sorted(space):
        dist = space[name]
        if isinstance(dist, FloatRange):
            values[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
        elif isinstance(dist, IntRange):
            values[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step)
        elif isinstance(dist, Choice):
            values[name] = trial.suggest_categorical(name, list(dist.choices))
        else:  # pragma: no cover - the config layer only builds the three kinds
            raise TypeError(f"unknown distribution {dist!r}")
    return values


def _stale_numbers(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of trials that were retried (their WAITING copy carries ``failed_trial``/history)."""
    out: set[int] = set()
    for t in trials:
        out.update(int(n) for n in t.system_attrs.get("retry_history", []))
    return out


def budget_trials(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Trials holding a budget slot (not stale, not surplus, not WAITING), by number."""
    stale = _stale_numbers(trials)
    return [
        t
        for t in sorted(trials, key=lambda t: t.number)
        if t.state != TrialState.WAITING and t.number not in stale and not t.user_attrs.get(ATTR["surplus"])
    ]


def claim_slot(study: optuna.Study, trial: optuna.Trial, budget: int) -> int | None:
    """Record the owner and the budget slot of a starting trial; None when the budget is spent.

    A retried trial keeps its original slot. A new trial's slot is its rank among the slot holders.
    """
    trial.set_user_attr(ATTR["owner"], owner_id())
    inherited = trial.user_attrs.get(ATTR["slot"])
    if inherited is not None:
        return int(inherited)
    holders = [t for t in budget_trials(study.get_trials(deepcopy=False)) if t.number < trial.number]
    slot = len(holders)
    if slot >= budget:
        trial.set_user_attr(ATTR["surplus"], True)
        return None
    trial.set_user_attr(ATTR["slot"], slot)
    return slot


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_trials(study: optuna.Study, *, ownerless_dead: bool = False) -> int:
    """Fail RUNNING trials whose owner process on this host is gone and queue a retry of each.

    Used for SQLite and journal storages (RDB storages rely on the heartbeat). A trial with no owner yet
    (killed between creation and its first line) counts as dead only with ``ownerless_dead=True``, which is
    right before any worker of this study has started.

    Returns:
        How many trials were recovered.
    """
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    host = socket.gethostname()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retry = RetryHeartbeatStaleTrialCallback(max_retry=None)
    trials = study.get_trials(deepcopy=False)
    stale = _stale_numbers(trials)
    count = 0
    for t in trials:
        if t.state == TrialState.FAIL and t.user_attrs.get(ATTR["interrupted"]) and t.number not in stale:
            retry(study, t)  # Ctrl-C'd trial: failed by Optuna, never retried yet
            count += 1
            continue
        if t.state != TrialState.RUNNING:
            continue
        owner = str(t.user_attrs.get(ATTR["owner"], ""))
        o_host, _, o_pid = owner.rpartition(":")
        if owner and o_host != host:
            continue
        if owner and o_pid.isdigit() and _pid_alive(int(o_pid)):
            continue
        if not owner and not ownerless_dead:
            continue  # just created by a live worker that has not recorded itself yet
        try:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        except (ValueError, RuntimeError):
            continue
        retry(study, t)
        count += 1
    return count
