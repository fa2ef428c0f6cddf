"""Ctrl-C and SIGTERM during a study: a ``KeyboardInterrupt`` at once, except inside Optuna's own
bookkeeping, where it waits for the next safe point.

Why: Python raises a signal's exception at whatever line is running. Inside ``study.optimize`` but outside
the objective (Optuna asking for or telling a trial), that leaves Optuna's trial bookkeeping half done:
Optuna 5.0's ``_run_trial`` then fails with ``UnboundLocalError`` instead of the interrupt (seen in about 1
of 5 SIGTERMs in ``tests/hardening/test_mlflow_lifecycle.py``). So :func:`held` marks Optuna's part of a
trial, :func:`at_once` the objective inside it, and a signal that arrives while held is raised by
:func:`raise_pending` at the next safe point: before the next training starts, or when ``optimize``
returns. Everywhere else (set-up, training, results, the report) the interrupt is raised at once, as
Python's own Ctrl-C handler does.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

__all__ = ["at_once", "held", "install", "on_signal", "raise_pending"]

_modes: list[bool] = []  # innermost last; True: raise at once, False: hold until a safe point
_pending: list[int] = []  # signals that arrived while held


def on_signal(signum: int, frame: object) -> None:
    """The handler of SIGINT and SIGTERM while a study runs."""
    if _modes and not _modes[-1]:
        _pending.append(signum)
        return
    raise KeyboardInterrupt(f"signal {signum}")


def install() -> None:
    """Handle SIGINT and SIGTERM with :func:`on_signal` (in the main thread of a study's process)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)


def raise_pending() -> None:
    """Raise the interrupt a held signal asked for, if any (call where an interrupt is safe)."""
    if _pending:
        signum = _pending[0]
        _pending.clear()
        raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _mode(immediate: bool) -> Iterator[None]:
    _modes.append(immediate)
    try:
        yield
    finally:
        _modes.pop()


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold signals inside this block (Optuna's bookkeeping); a held one is raised when it ends."""
    with _mode(False):
        yield
    raise_pending()


def at_once() -> contextlib.AbstractContextManager[None]:
    """Raise at once inside this block, also within :func:`held` (an objective inside ``optimize``)."""
    return _mode(True)
