"""``--workers N``: the N − 1 helper processes beside the ``discrimbench run`` process (worker 0), tied
to its life, and the one line a helper prints when it loses the storage."""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import optuna

from benchmark import interrupts
from benchmark.study.plan import StudyPlan
from benchmark.study.worker import work
from benchmark.tracking import NullTracker, SharedMlflowTracker, Tracker, WriterHandle, mask_url
from benchmark.tuning import storage_failure

__all__ = ["helpers", "lost_storage_message"]


@contextlib.contextmanager
def helpers(plan: StudyPlan, tracker: Tracker) -> Iterator[Callable[[], None]]:
    """``--workers N``: start the N − 1 helper processes now; yields the call that lets them work.

    This process is worker 0. The helpers start before the storage is set up, which waits for the MLflow
    writer to open its store (seconds), so that their own start (imports) costs no wall time; they begin
    claiming work only once released. This process's :func:`~benchmark.study.worker.work` returns only
    once every cell is done, those the helpers finished included, and takes over the trials of a helper
    that died (their owner is gone), so a failed helper (it said why on stderr) costs time, not results.
    On an exception here the helpers are terminated: their RUNNING trials are retried by the next run, as
    after a kill.
    """
    if plan.workers == 1:
        yield lambda: None
        return
    ctx = multiprocessing.get_context("spawn")
    release = ctx.Event()
    processes = [
        ctx.Process(
            target=_guarded_worker_main,
            args=(plan, tracker.client(i), os.getpid(), release),
            daemon=False,
        )
        for i in range(plan.workers - 1)
    ]
    for p in processes:
        p.start()
    try:
        yield release.set
    except BaseException:
        for p in processes:
            p.terminate()
        raise
    finally:
        for p in processes:
            p.join()


def _worker_main(plan: StudyPlan, writer: WriterHandle | None) -> None:
    tracker: Tracker = NullTracker() if writer is None else SharedMlflowTracker(writer)
    try:
        work(plan, tracker=tracker)
    finally:
        tracker.close()


def _exit_with_parent(parent_pid: int) -> None:
    """Have Linux SIGKILL this worker when the ``discrimbench run`` process that started it dies.

    A killed study must leave its trials RUNNING under dead owners, which the next run retries with the
    same parameters; a worker that outlived its parent could no longer log to MLflow (the writer belongs
    to the parent) and would fail its trial instead. Elsewhere the worker notices at its next MLflow call.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _guarded_worker_main(plan: StudyPlan, writer: WriterHandle | None, parent_pid: int, release: Any) -> None:
    """A ``--workers`` helper process: imports the engine, waits for ``release`` (the storage is set up),
    then works. A lost storage is one line on stderr and exit code 2, not a traceback (the parent, itself
    a worker, takes over what the helper left)."""
    _exit_with_parent(parent_pid)
    for module in ("torch", "torch._dynamo", "benchmark.data", "benchmark.training"):
        importlib.import_module(module)  # what the first run imports, loaded while the parent sets up
    interrupts.install()  # a Ctrl-C reaches the helpers too: held while Optuna tells a trial
    release.wait()
    try:
        _worker_main(plan, writer)
    except Exception as exc:
        cause = storage_failure(exc)
        if cause is None or os.environ.get("DISCRIMBENCH_DEBUG"):
            raise
        print(
            f"discrimbench run: worker {os.getpid()}: error: {lost_storage_message(cause, plan)}",
            file=sys.stderr,
        )
        sys.exit(2)


def lost_storage_message(cause: BaseException, plan: StudyPlan) -> str:
    """One line for a storage that failed, or stayed away longer than the reconnect patience."""
    if isinstance(cause, optuna.exceptions.StorageInternalError) and cause.__cause__ is not None:
        cause = cause.__cause__
    reason = " ".join(str(getattr(cause, "orig", None) or cause).split())[:200]
    return (
        f"lost the Optuna storage {mask_url(plan.storage_url)} ({type(cause).__name__}: {mask_url(reason)}); "
        "finished trials are kept: re-run the same command to resume"
    )
