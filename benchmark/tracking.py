"""Experiment tracking: MLflow (the default, a SQLite store in the study folder) and a no-op tracker.

The study runner talks to a :class:`Tracker` only. :class:`MlflowTracker` queues its calls to a writer
process (:mod:`benchmark._mlflow_writer`) that uses ``MlflowClient`` directly (never the fluent
``mlflow.start_run`` API, whose global active-run stack mixes up nested runs across trials and processes):
a parent run per cell, child runs per trial and per repeat linked by the ``mlflow.parentRunId`` tag.
Per-epoch metrics are buffered and written with ``log_batch``. A tracking failure (a locked SQLite file, a
server hiccup) is retried and then reported as a warning: losing a metric must not lose a finished run.
"""

from __future__ import annotations

import atexit
import io
import json
import math
import os
import queue
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmark.errors import TrackingError
from benchmark.naming import MLFLOW_ARTIFACTS, default_mlflow_uri
from benchmark.tracking_tags import OWNER_TAG, REPLACES_TAG, UNIT_TAG

__all__ = [
    "OWNER_TAG",
    "REPLACES_TAG",
    "UNIT_TAG",
    "MlflowTracker",
    "NullTracker",
    "SharedMlflowTracker",
    "Tracker",
    "WriterHandle",
    "make_tracker",
    "mask_url",
]


def mask_url(url: str | None) -> str | None:
    """``url`` with the password replaced by ``***`` (``postgresql://u:***@host/db``)."""
    if url is None:
        return None
    return re.sub(r"(://[^/:@]+:)[^/@]*@", r"\1***@", url)


class Tracker(Protocol):
    """What the study runner needs from a tracking backend."""

    enabled: bool

    def cell_run(self, cell_id: str, tags: Mapping[str, str]) -> str | None:
        """Queue the creation of a cell's parent run; returns a key for :meth:`run_id` (None: no run).

        Setting up a study queues every cell's parent before it asks for the first id, so the writer
        creates them back to back instead of answering one round trip per cell."""

    def start(
        self, parent: str | None, name: str, tags: Mapping[str, str], params: Mapping[str, Any]
    ) -> str | None:
        """Start a child run; returns its id."""

    def log_epoch(self, run_id: str | None, epoch: int, metrics: Mapping[str, float]) -> None:
        """Buffer one epoch's finite metrics (written in batches)."""

    def log_json(self, run_id: str | None, name: str, payload: Mapping[str, Any]) -> None:
        """Store a JSON artifact."""

    def log_arrays(self, run_id: str | None, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Store an ``.npz`` artifact."""

    def finish(self, run_id: str | None, status: str, tags: Mapping[str, str] | None = None) -> None:
        """Flush, tag and close a run (status FINISHED, FAILED or KILLED)."""

    def run_id(self, key: str | None) -> str | None:
        """The MLflow run id behind a key returned by :meth:`start`."""

    def reap(self) -> None:
        """End runs left RUNNING by dead processes of this host as KILLED (before a study resumes)."""

    def reopen(self, run_id: str) -> None:
        """Mark a run RUNNING again (a cell's parent run, ended KILLED by an interrupt, resumed)."""

    def client(self, index: int) -> WriterHandle | None:
        """What the ``index``-th ``--workers`` process needs to log through this tracker (None: nothing)."""

    def close(self) -> None:
        """Complete every pending write."""


class NullTracker:
    """Tracking switched off (``--tracking-uri none``): every call does nothing."""

    enabled = False

    def cell_run(self, cell_id: str, tags: Mapping[str, str]) -> str | None:
        return None

    def start(
        self, parent: str | None, name: str, tags: Mapping[str, str], params: Mapping[str, Any]
    ) -> str | None:
        return None

    def log_epoch(self, run_id: str | None, epoch: int, metrics: Mapping[str, float]) -> None:
        return None

    def log_json(self, run_id: str | None, name: str, payload: Mapping[str, Any]) -> None:
        return None

    def log_arrays(self, run_id: str | None, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        return None

    def finish(self, run_id: str | None, status: str, tags: Mapping[str, str] | None = None) -> None:
        return None

    def run_id(self, key: str | None) -> str | None:
        return None

    def reap(self) -> None:
        return None

    def reopen(self, run_id: str) -> None:
        return None

    def client(self, index: int) -> WriterHandle | None:
        return None

    def close(self) -> None:
        return None


@dataclass
class WriterHandle:
    """What a ``--workers`` process needs to log through the writer of the process that started it.

    Passed to the worker as a ``Process`` argument (queues and events travel only that way).

    Attributes:
        uri: the tracking URI (for messages).
        jobs: the writer's job queue, shared by every client.
        replies: this client's answers (MLflow run ids).
        client: this client's index in the writer's list of answer queues.
        stopped: set once the writer process has ended, for whatever reason.
        owner_pid: the process that owns the writer (the worker's parent).
    """

    uri: str
    jobs: Any
    replies: Any
    client: int
    stopped: Any
    owner_pid: int


class _QueuedTracker:
    """The :class:`Tracker` calls as jobs on a writer's queue; the subclasses say where the writer is."""

    enabled = True

    def __init__(self, uri: str, jobs: Any, replies: Any, client: int) -> None:
        self.uri = uri
        self._jobs, self._replies, self._client = jobs, replies, client
        self._ids: dict[str, str | None] = {}
        self._buffer: dict[str, list[tuple[Any, ...]]] = {}
        self._last_flush: dict[str, float] = {}
        self._pending: dict[str, _PendingRun] = {}

    def _writer_gone(self) -> bool:
        """True once the writer can no longer answer."""
        raise NotImplementedError

    def client(self, index: int) -> WriterHandle | None:
        """A handle for the ``index``-th worker process; None when this tracker cannot share its writer."""
        return None

    # -- answers from the writer --

    def _receive(self, until: Callable[[], bool]) -> None:
        while not until():
            try:
                kind, value = self._replies.get(timeout=5.0)
            except queue.Empty:
                if self._writer_gone():
                    raise TrackingError(f"the MLflow writer for {mask_url(self.uri)} stopped") from None
                continue
            if kind == "error":
                raise TrackingError(f"cannot open MLflow tracking store {mask_url(self.uri)}: {value}")
            if kind == "id":
                key, run_id = value
                self._ids[key] = run_id

    def run_id(self, key: str | None) -> str | None:
        """The MLflow run id of a run started with :meth:`start` (None if MLflow refused it)."""
        if key is None:
            return None
        self._receive(lambda: key in self._ids)
        return self._ids[key]

    # -- the Tracker protocol --

    def reap(self) -> None:
        import socket

        self._jobs.put(("reap", socket.gethostname(), int(time.time() * 1000)))

    def reopen(self, run_id: str) -> None:
        self._jobs.put(("reopen", run_id))

    def cell_run(self, cell_id: str, tags: Mapping[str, str]) -> str | None:
        key = uuid.uuid4().hex
        self._jobs.put(("create", self._client, key, cell_id, dict(tags), int(time.time() * 1000)))
        return key

    def start(
        self, parent: str | None, name: str, tags: Mapping[str, str], params: Mapping[str, Any]
    ) -> str | None:
        """Queue the run's creation and return its key (:meth:`run_id` gives the MLflow id)."""
        key = uuid.uuid4().hex
        all_tags = {**tags, **({"mlflow.parentRunId": parent} if parent else {})}
        self._jobs.put(("create", self._client, key, name, all_tags, int(time.time() * 1000)))
        self._pending[key] = _PendingRun(params=dict(params))
        self._last_flush[key] = time.monotonic()
        return key

    def log_epoch(self, run_id: str | None, epoch: int, metrics: Mapping[str, float]) -> None:
        if run_id is None:
            return
        now = int(time.time() * 1000)
        rows = self._buffer.setdefault(run_id, [])
        # A value the run cannot have (an AUROC with no corrupted sample: NaN) is left out, not stored as
        # NaN: MLflow shows the metric as absent, and the writer has a seventh fewer rows to insert.
        rows.extend(
            (k, float(v), now, epoch) for k, v in metrics.items() if k != "epoch" and math.isfinite(v)
        )
        if time.monotonic() - self._last_flush.get(run_id, 0.0) > 15.0:  # live curves on long runs
            self._last_flush[run_id] = time.monotonic()
            self._jobs.put(("batch", run_id, self._buffer.pop(run_id, []), [], []))

    def log_json(self, run_id: str | None, name: str, payload: Mapping[str, Any]) -> None:
        text = json.dumps(_json_ready(payload), indent=2, sort_keys=True)
        self._add_file(run_id, name, text.encode())

    def log_arrays(self, run_id: str | None, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        columns: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
        np.savez_compressed(buffer, **columns)
        self._add_file(run_id, name, buffer.getvalue())

    def _add_file(self, run_id: str | None, name: str, content: bytes) -> None:
        if run_id is None:
            return
        if run_id in self._pending:
            self._pending[run_id].files[name] = content
        else:  # a run that already finished (a hardness file logged after its repeat ended)
            self._jobs.put(("files", run_id, {name: content}))

    def finish(self, run_id: str | None, status: str, tags: Mapping[str, str] | None = None) -> None:
        """Queue the run's params, metrics, tags, artifacts and end, in that order."""
        if run_id is None:
            return
        pending = self._pending.pop(run_id, _PendingRun())
        params = [(k, _param_str(v)) for k, v in sorted(pending.params.items())]
        tag_rows = [(k, str(v)) for k, v in (tags or {}).items()]
        self._last_flush.pop(run_id, None)
        self._jobs.put(("batch", run_id, self._buffer.pop(run_id, []), params, tag_rows))
        if pending.files:
            self._jobs.put(("files", run_id, pending.files))
        self._jobs.put(("end", run_id, status, int(time.time() * 1000)))


class MlflowTracker(_QueuedTracker):
    """MLflow through ``MlflowClient`` in a writer process (:mod:`benchmark._mlflow_writer`).

    One experiment per study. The training process only queues plain tuples, so tracking costs it almost
    nothing; runs get a local key at once and their MLflow id when the writer has created them. Call
    :meth:`close` before the process ends: it waits until everything queued is written.

    One writer serves a whole ``discrimbench run``: its ``--workers`` processes log through
    :meth:`client` handles (:class:`SharedMlflowTracker`) rather than start writers of their own, which
    would each import MLflow and contend for the SQLite file; a single writer is what SQLite wants.

    Args:
        uri: tracking URI (``sqlite:///…/mlflow.db``, ``http://host:5000``, ...).
        experiment: experiment name (the study name).
        artifact_location: where a new experiment keeps artifacts (``file://…/mlartifacts``); ignored
            when the experiment exists or the server decides.
        clients: how many worker processes will log through this writer.

    Raises:
        TrackingError: the store cannot be opened (reported at the first use that needs an answer).
    """

    def __init__(
        self, uri: str, experiment: str, artifact_location: str | None = None, clients: int = 0
    ) -> None:
        import multiprocessing
        import threading

        from benchmark._mlflow_writer import writer_main

        ctx = multiprocessing.get_context("spawn")
        jobs = ctx.Queue()
        replies = [ctx.Queue() for _ in range(clients + 1)]  # 0: this process; i: the i-th worker
        super().__init__(uri, jobs, replies[0], 0)
        self._stopped = ctx.Event()
        self._process = ctx.Process(
            target=writer_main,
            args=(uri, experiment, artifact_location, jobs, replies, os.getpid()),
            name="mlflow-writer",
        )
        self._process.start()
        # Workers wait on their own answer queues: this thread tells them when the writer has ended,
        # however it ended (a crash or a kill included), so that none waits forever.
        threading.Thread(target=self._watch, daemon=True, name="mlflow-writer-watch").start()
        atexit.register(self.close)  # never leave the interpreter waiting on a writer it forgot
        self._handles = [
            WriterHandle(uri, jobs, replies[i], i, self._stopped, os.getpid()) for i in range(1, clients + 1)
        ]

    def _watch(self) -> None:
        from multiprocessing.connection import wait

        wait([self._process.sentinel])
        self._stopped.set()

    def _writer_gone(self) -> bool:
        return not self._process.is_alive()

    def client(self, index: int) -> WriterHandle | None:
        """The handle for worker ``index`` (0 ≤ index < ``clients``)."""
        return self._handles[index]

    def close(self) -> None:
        """Wait until every queued write is done, then stop the writer."""
        if not self._process.is_alive():
            return
        self._jobs.put(("close",))
        self._process.join()


class SharedMlflowTracker(_QueuedTracker):
    """A ``--workers`` process's tracker: its jobs go to the writer of the process that started it."""

    def __init__(self, handle: WriterHandle) -> None:
        super().__init__(handle.uri, handle.jobs, handle.replies, handle.client)
        self._handle = handle
        self._closed = False

    def _writer_gone(self) -> bool:
        return self._handle.stopped.is_set() or os.getppid() != self._handle.owner_pid

    def close(self) -> None:
        """Hand every queued job to the writer's pipe (the writer itself belongs to the parent)."""
        if not self._closed:
            self._closed = True
            self._jobs.close()
            self._jobs.join_thread()


@dataclass
class _PendingRun:
    """What a started run has logged so far, written in one go when it finishes."""

    params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def _param_str(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_json_ready(v) for v in value]
    return value


def make_tracker(uri: str | None, experiment: str, folder: Path, clients: int = 0) -> Tracker:
    """The tracker for ``uri``: ``none`` → :class:`NullTracker`; ``None`` → SQLite in ``folder``.

    ``clients``: worker processes that will log through this tracker's writer (:meth:`Tracker.client`).
    """
    if uri is not None and uri.strip().lower() in {"none", "off", "false", ""}:
        return NullTracker()
    artifact_location = None
    if uri is None:
        folder.mkdir(parents=True, exist_ok=True)
        uri = default_mlflow_uri(folder)
        artifact_location = (folder / MLFLOW_ARTIFACTS).resolve().as_uri()
    return MlflowTracker(uri, experiment, artifact_location, clients)
