"""Optuna: storages, a per-slot seeded TPE sampler, pruners, search spaces, the trial budget and recovery.

Budget accounting. A cell's budget (``tuning.n_trials``; 1 when a method has nothing to search: its single
trial is the paper defaults, more would re-run identical configurations) counts COMPLETED trials, the same
number for every method. PRUNED and FAIL (diverged) trials are extra: the cell goes on until it has its
completed trials, or until it has spent its cap of extra trials (``tuning.max_extra_trials``, default
``n_trials``), so that a study cannot loop forever on a space that always diverges or a pruner that always
prunes; a cell stopped by the cap has fewer completed trials, and the budget-health checks say so. With
several workers the cap can be overshot by up to one trial per other worker (trials already running when
the cap is reached still finish, pruned or not).

Every trial that starts takes the next *slot* (0, 1, 2, …): the slot seeds its draw and numbers it.
Two kinds of trials hold no slot: *stale* ones (their worker died; a WAITING retry with the same
parameters inherits the slot) and *surplus* ones (a worker raced past the budget; recorded FAIL with
``discrimbench.surplus`` and ignored everywhere).

Determinism. The sampler draws slot ``k`` with a TPE seeded from ``(sampler_seed, k)``, so a study that
was killed and resumed suggests exactly what an uninterrupted one would (TPE ignores FAIL trials).
"""

from __future__ import annotations

import abc
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

from baselines._base import Choice, Distribution, FloatRange, IntRange
from benchmark.errors import TrackingError

__all__ = [
    "ATTR",
    "RECONNECT_S",
    "ReconnectingStorage",
    "SlotSeededSampler",
    "TrialCounts",
    "budget_trials",
    "claim_slot",
    "count_trials",
    "make_pruner",
    "may_prune",
    "open_storage",
    "owner_id",
    "prune_warmup",
    "recover_dead_trials",
    "storage_failure",
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

            rdb = _create_racing(
                lambda: optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=None),
                    engine_kwargs={
                        "pool_pre_ping": True
                    },  # a pooled connection killed by a restart is replaced
                )
            )
            return ReconnectingStorage(optuna.storages.get_storage(rdb))  # get_storage adds Optuna's cache
    except Exception as exc:
        from benchmark.tracking import mask_url

        raise TrackingError(f"cannot open Optuna storage {mask_url(url)}: {exc}") from None
    raise TrackingError(
        f"storage URL {url!r} is not supported; use sqlite:///FILE, postgresql://USER:PASS@HOST/DB, "
        "mysql://…, journal:///PATH or a PATH ending in .journal"
    )


def _create_racing(create: Callable[[], BaseStorage], attempts: int = 5) -> BaseStorage:
    """``create()``, retried a few times when it loses the race to create Optuna's tables in a fresh
    database against another worker starting at the same moment (a duplicate-key or duplicate-table
    error): the tables then exist and the next attempt only reads them."""
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            return create()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


RECONNECT_S = 60.0  # how long a worker waits for a lost storage connection to come back


def is_connection_error(exc: BaseException) -> bool:
    """True for a lost or refused database connection (server restarted, network down), also when Optuna
    wrapped it in ``StorageInternalError``: the errors that reconnecting can cure (data errors are not)."""
    import sqlalchemy.exc as sa

    if isinstance(exc, optuna.exceptions.StorageInternalError) and exc.__cause__ is not None:
        exc = exc.__cause__
    # PendingRollbackError: the connection was lost inside a transaction that Optuna went on using (the
    # fallback query of ``RDBStorage._get_trials``); Optuna then rolls the session back, so a retry works
    if isinstance(
        exc, sa.OperationalError | sa.InterfaceError | sa.DisconnectionError | sa.PendingRollbackError
    ):
        return True
    return isinstance(exc, sa.DBAPIError) and bool(exc.connection_invalidated)


def storage_failure(exc: BaseException) -> BaseException | None:
    """The storage error behind ``exc``, or None. Looks at ``exc`` itself (any SQLAlchemy or Optuna
    storage error) and along its ``__context__`` chain for a lost connection: when the database stays
    away, Optuna's trial bookkeeping can fail again while handling it (an ``UnboundLocalError`` in
    ``optuna.study._optimize._run_trial``), and the connection loss is the real cause."""
    import sqlalchemy.exc as sa

    if isinstance(exc, sa.SQLAlchemyError | optuna.exceptions.StorageInternalError):
        return exc
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if is_connection_error(link):
            return link
        link = link.__cause__ or link.__context__
    return None


class ReconnectingStorage(BaseStorage, BaseHeartbeat):
    """An Optuna storage that retries every call failing on a lost database connection, with back-off,
    until the connection has been down for ``patience_s``: a PostgreSQL restart or a network blip pauses
    the workers instead of killing them (the engine's ``pool_pre_ping`` opens fresh connections).

    All calls of one outage share its clock, so once it is over ``patience_s`` every call fails at once and
    the worker exits; a success ends the outage. Retrying can repeat a write whose commit went through
    just before the connection dropped: harmless for attribute and heartbeat writes; a repeated state
    change raises ``UpdateFinishedTrialError``, which the study runner treats as "finished elsewhere".
    The heartbeat thread never raises a connection error (that would print a traceback and stop the
    heartbeat): the main thread's next call reports a lasting outage.
    """

    def __init__(self, inner: BaseStorage, patience_s: float = RECONNECT_S, max_delay_s: float = 0.5) -> None:
        self._inner = inner
        self._patience_s = patience_s
        self._max_delay_s = max_delay_s
        self._down_since: float | None = None

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        delay = 0.05
        while True:
            try:
                result = getattr(self._inner, name)(*args, **kwargs)
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                now = time.monotonic()
                if self._down_since is None:
                    self._down_since = now
                if now - self._down_since >= self._patience_s:
                    raise
                time.sleep(delay)
                delay = min(2 * delay, self._max_delay_s)
                continue
            self._down_since = None
            return result

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self._call("record_heartbeat", trial_id)
        except Exception as exc:
            if not is_connection_error(exc):
                raise

    def get_heartbeat_interval(self) -> int | None:
        return self._inner.get_heartbeat_interval()  # type: ignore[attr-defined, no-any-return]

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._inner.get_heartbeat_stale_trial_callback()  # type: ignore[attr-defined, no-any-return]

    def remove_session(self) -> None:
        self._inner.remove_session()


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: ReconnectingStorage, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = getattr(BaseStorage, name, getattr(BaseHeartbeat, name, None)).__doc__
    return method


# Every storage method that reads or writes the database, retried through ``_call`` (the cached storage
# underneath has faster versions of some that BaseStorage derives from others, so all are delegated).
for _name in (
    "create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
    "get_study_id_from_name", "get_study_name_from_id", "get_study_directions", "get_study_user_attrs",
    "get_study_system_attrs", "get_all_studies", "create_new_trial", "set_trial_param",
    "get_trial_id_from_study_id_trial_number", "get_trial_number_from_id", "get_trial_param",
    "set_trial_state_values", "set_trial_intermediate_value", "set_trial_user_attr", "set_trial_system_attr",
    "get_trial", "get_all_trials", "get_n_trials", "get_best_trial", "get_trial_params",
    "get_trial_user_attrs", "get_trial_system_attrs", "check_trial_is_updatable", "_get_stale_trial_ids",
):  # fmt: skip
    setattr(ReconnectingStorage, _name, _delegate(_name))
abc.update_abstractmethods(ReconnectingStorage)


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
    """``median`` / ``hyperband`` (epoch-level) or ``none``.

    The study runner also asks the pruner only once a trial is past its warm-up and the cell has
    ``n_startup_trials`` completed trials (:func:`may_prune`), whatever the pruner.
    """
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=0)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    return optuna.pruners.NopPruner()


def prune_warmup(schedule: Mapping[str, float], epochs: int, fraction: float) -> int:
    """First 0-based epoch at which a trial may be pruned: after the epoch in which the last of the
    method's schedules reached its final form (``schedule_epochs``) and after ``fraction`` of the run."""
    last_schedule = max((math.floor(e) + 1 for e in schedule.values()), default=0)
    return max(last_schedule, math.ceil(fraction * epochs))


def may_prune(epoch: int, warmup: int, completed: int, startup: int) -> bool:
    """Whether the pruner may be asked at ``epoch``: past the warm-up, and with ``startup`` completed
    trials of the cell to compare against."""
    return epoch >= warmup and completed >= startup


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


@dataclass(frozen=True)
class TrialCounts:
    """How a cell's slot-holding trials stand: COMPLETE, PRUNED, FAIL and RUNNING."""

    completed: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0

    @property
    def extra(self) -> int:
        """Trials that do not count toward the budget: pruned and failed ones."""
        return self.pruned + self.failed

    def open(self, budget: int, cap: int) -> bool:
        """Whether another trial may start: completed and running ones leave room in the budget and the
        extra trials have not reached their cap."""
        return self.completed + self.running < budget and self.extra < cap

    def finished(self, budget: int, cap: int) -> bool:
        """Whether tuning is over: the budget completed, or the cap of extra trials spent, nothing running."""
        return self.running == 0 and (self.completed >= budget or self.extra >= cap)


def count_trials(trials: Sequence[FrozenTrial]) -> TrialCounts:
    """:class:`TrialCounts` of the slot holders among ``trials``."""
    held = budget_trials(trials)
    return TrialCounts(
        completed=sum(t.state == TrialState.COMPLETE for t in held),
        pruned=sum(t.state == TrialState.PRUNED for t in held),
        failed=sum(t.state == TrialState.FAIL for t in held),
        running=sum(t.state == TrialState.RUNNING for t in held),
    )


def claim_slot(study: optuna.Study, trial: optuna.Trial, budget: int, cap: int) -> int | None:
    """Record the owner and the slot of a starting trial; None when the budget is already complete (or
    being completed by running trials) or the cap of extra trials is spent.

    A retried trial keeps its original slot. A new trial's slot is its rank among the slot holders.
    """
    trial.set_user_attr(ATTR["owner"], owner_id())
    inherited = trial.user_attrs.get(ATTR["slot"])
    if inherited is not None:
        return int(inherited)
    holders = [t for t in budget_trials(study.get_trials(deepcopy=False)) if t.number < trial.number]
    if not count_trials(holders).open(budget, cap):
        trial.set_user_attr(ATTR["surplus"], True)
        return None
    slot = len(holders)
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
