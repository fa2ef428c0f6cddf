"""Opening Optuna storages, and riding out a database outage with Optuna's public API only.

``sqlite:///…`` (one process), ``postgresql://…`` / ``mysql://…`` (many workers: Optuna's heartbeat
fails the trials of a dead worker after the grace period and ``RetryHeartbeatStaleTrialCallback`` queues
a retry with the same parameters), ``journal:///abs/path`` or a path ending in ``.journal`` (a journal
file shared by the local ``--workers``).

A PostgreSQL restart or a network blip pauses the workers instead of killing them, through SQLAlchemy's
public engine API: ``pool_pre_ping`` replaces a pooled connection that the restart killed, and a
``do_connect`` listener on the storage's engine (``RDBStorage.engine``) keeps trying to connect, with the
engine's own dialect and arguments, for up to :data:`RECONNECT_S` seconds. The heartbeat thread never
raises a connection error (:class:`ReconnectingRDBStorage`): that would print a traceback and stop the
heartbeat; a missed beat is harmless while the outage is shorter than the grace period. A statement that
was running at the very moment the server went down fails, and the worker stops with one line
(:func:`storage_failure`); its trial goes stale and another worker, or the re-run, retries it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback

from benchmark.errors import TrackingError
from benchmark.naming import is_journal_url, is_sqlite_url, journal_path

__all__ = [
    "RECONNECT_S",
    "ReconnectingRDBStorage",
    "is_connection_error",
    "is_rdb_url",
    "lost_connection",
    "open_storage",
    "patient_connect",
    "storage_failure",
]

RECONNECT_S = 60.0  # how long a worker waits for a lost storage connection to come back


def is_rdb_url(url: str) -> bool:
    """A database server or file that SQLAlchemy opens (PostgreSQL, MySQL, SQLite)."""
    return url.split(":", 1)[0].split("+", 1)[0] in {"postgresql", "postgres", "mysql", "sqlite"}


class ReconnectingRDBStorage(RDBStorage):
    """Optuna's RDB storage that rides out a database outage (see the module docstring).

    Args:
        patience_s: how long a lost connection is tried again before the call fails; 0 turns it off.
        Everything else as :class:`optuna.storages.RDBStorage`.
    """

    def __init__(self, url: str, *args: Any, patience_s: float = RECONNECT_S, **kwargs: Any) -> None:
        super().__init__(url, *args, **kwargs)  # its first connections are not retried: a wrong URL fails
        if patience_s > 0:
            import sqlalchemy

            sqlalchemy.event.listen(self.engine, "do_connect", patient_connect(patience_s))

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as exc:
            if not is_connection_error(exc):
                raise


def open_storage(url: str, *, heartbeat_interval: int = 10, grace_period: int = 60) -> BaseStorage:
    """The Optuna storage for ``url`` (see the module docstring for the kinds).

    Raises:
        TrackingError: the storage cannot be opened.
    """
    try:
        if is_journal_url(url):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            path = journal_path(url)
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        if is_sqlite_url(url):
            return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        if is_rdb_url(url):
            retry = RetryHeartbeatStaleTrialCallback(max_retry=None)
            return _create_racing(
                lambda: ReconnectingRDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=retry,
                )
            )
    except Exception as exc:
        from benchmark.tracking import mask_url

        raise TrackingError(f"cannot open Optuna storage {mask_url(url)}: {exc}") from None
    raise TrackingError(
        f"storage URL {url!r} is not supported; use sqlite:///FILE, postgresql://USER:PASS@HOST/DB, "
        "mysql://…, journal:///PATH or a PATH ending in .journal"
    )


def patient_connect(patience_s: float, max_delay_s: float = 0.5) -> Callable[..., Any]:
    """A SQLAlchemy ``do_connect`` listener that retries a refused connection with back-off for up to
    ``patience_s`` seconds (the database restarting), then raises the last error."""

    def connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        start, delay = time.monotonic(), 0.05
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError:
                if time.monotonic() - start >= patience_s:
                    raise
                time.sleep(delay)
                delay = min(2 * delay, max_delay_s)

    return connect


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


def is_connection_error(exc: BaseException) -> bool:
    """True for a lost or refused database connection (server restarted, network down), also when Optuna
    wrapped it in ``StorageInternalError``: the errors that reconnecting can cure (data errors are not)."""
    import sqlalchemy.exc as sa

    if isinstance(exc, optuna.exceptions.StorageInternalError) and exc.__cause__ is not None:
        exc = exc.__cause__
    # PendingRollbackError: the connection was lost inside a transaction that Optuna went on using; Optuna
    # then rolls the session back, so a retry works
    if isinstance(
        exc, sa.OperationalError | sa.InterfaceError | sa.DisconnectionError | sa.PendingRollbackError
    ):
        return True
    return isinstance(exc, sa.DBAPIError) and bool(exc.connection_invalidated)


def storage_failure(exc: BaseException) -> BaseException | None:
    """The storage error behind ``exc``, or None. Looks at ``exc`` itself (any SQLAlchemy or Optuna
    storage error) and along its ``__context__`` chain for a lost connection: when the database stays
    away, Optuna's trial bookkeeping can fail again while handling it, and the connection loss is the
    real cause."""
    import sqlalchemy.exc as sa

    if isinstance(exc, sa.SQLAlchemyError | optuna.exceptions.StorageInternalError):
        return exc
    return lost_connection(exc)


def lost_connection(exc: BaseException) -> BaseException | None:
    """The lost or refused database connection that is ``exc`` or along its cause/context chain, or None."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if is_connection_error(link):
            return link
        link = link.__cause__ or link.__context__
    return None
