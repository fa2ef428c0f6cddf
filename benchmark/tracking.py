"""Experiment tracking: MLflow (the default, a SQLite store in the study folder) and a no-op tracker.

The study runner talks to a :class:`Tracker` only. :class:`MlflowTracker` uses ``MlflowClient`` directly
(never the fluent ``mlflow.start_run`` API, whose global active-run stack mixes up nested runs across
trials and processes): a parent run per cell, child runs per trial and per repeat linked by the
``mlflow.parentRunId`` tag. Per-epoch metrics are buffered and written with ``log_batch``. A tracking
failure (a locked SQLite file, a server hiccup) is retried and then reported as a warning: losing a
metric must not lose a finished training run.
"""

from __future__ import annotations

import io
import json
import math
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from benchmark.errors import TrackingError

__all__ = ["MlflowTracker", "NullTracker", "Tracker", "make_tracker", "mask_url"]

T = TypeVar("T")
_MAX_BATCH = 1000  # MLflow's limit of metrics per log_batch call


def mask_url(url: str | None) -> str | None:
    """``url`` with the password replaced by ``***`` (``postgresql://u:***@host/db``)."""
    if url is None:
        return None
    return re.sub(r"(://[^/:@]+:)[^/@]*@", r"\1***@", url)


class Tracker(Protocol):
    """What the study runner needs from a tracking backend."""

    enabled: bool

    def cell_run(self, cell_id: str, tags: Mapping[str, str], existing: str | None = None) -> str | None:
        """Open (or reuse ``existing``) the parent run of a cell; returns its id."""

    def start(
        self, parent: str | None, name: str, tags: Mapping[str, str], params: Mapping[str, Any]
    ) -> str | None:
        """Start a child run; returns its id."""

    def log_epoch(self, run_id: str | None, epoch: int, metrics: Mapping[str, float]) -> None:
        """Buffer one epoch's metrics (written in batches)."""

    def log_json(self, run_id: str | None, name: str, payload: Mapping[str, Any]) -> None:
        """Store a JSON artifact."""

    def log_arrays(self, run_id: str | None, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Store an ``.npz`` artifact."""

    def finish(self, run_id: str | None, status: str, tags: Mapping[str, str] | None = None) -> None:
        """Flush, tag and close a run (status FINISHED, FAILED or KILLED)."""

    def close(self) -> None:
        """Complete every pending write."""


class NullTracker:
    """Tracking switched off (``--tracking-uri none``): every call does nothing."""

    enabled = False

    def cell_run(self, cell_id: str, tags: Mapping[str, str], existing: str | None = None) -> str | None:
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

    def close(self) -> None:
        return None


class MlflowTracker:
    """MLflow through ``MlflowClient``: one experiment per study.

    Args:
        uri: tracking URI (``sqlite:///…/mlflow.db``, ``http://host:5000``, ...).
        experiment: experiment name (the study name).
        artifact_location: where a new experiment keeps artifacts (``file://…/mlartifacts``); ignored
            when the experiment exists or the server decides.

    Raises:
        TrackingError: the store cannot be opened.
    """

    enabled = True

    def __init__(self, uri: str, experiment: str, artifact_location: str | None = None) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self._buffer: dict[str, list[Any]] = {}
        self._last_flush: dict[str, float] = {}
        self._pending: dict[str, _PendingRun] = {}
        # Writes after a run's creation go to one background thread: they overlap the next run's training
        # instead of adding to it. A process killed before close() may leave its last run's MLflow copy
        # incomplete; the study's results live in the Optuna storage and are unaffected.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-writer")
        try:
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                try:
                    self.experiment_id = self.client.create_experiment(experiment, artifact_location)
                except Exception:  # another worker created it first
                    found = self.client.get_experiment_by_name(experiment)
                    if found is None:
                        raise
                    self.experiment_id = found.experiment_id
            else:
                self.experiment_id = found.experiment_id
        except Exception as exc:
            raise TrackingError(f"cannot open MLflow tracking store {mask_url(uri)}: {exc}") from None

    def _retry(self, what: str, fn: Callable[[], T]) -> T | None:
        for attempt in range(4):
            try:
                return fn()
            except Exception as exc:  # tracking must never kill a finished run
                if attempt == 3:
                    warnings.warn(f"MLflow {what} failed ({mask_url(self.uri)}): {exc}", stacklevel=3)
                    return None
                time.sleep(0.2 * 2**attempt)
        return None

    def cell_run(self, cell_id: str, tags: Mapping[str, str], existing: str | None = None) -> str | None:
        if existing:
            return existing
        run = self._retry(
            "create cell run",
            lambda: self.client.create_run(self.experiment_id, tags=dict(tags), run_name=cell_id),
        )
        return None if run is None else run.info.run_id

    def start(
        self, parent: str | None, name: str, tags: Mapping[str, str], params: Mapping[str, Any]
    ) -> str | None:
        """Create the run now (its id is needed at once); everything else waits for :meth:`finish`."""
        all_tags = {**tags, **({"mlflow.parentRunId": parent} if parent else {})}
        run = self._retry(
            "create run", lambda: self.client.create_run(self.experiment_id, tags=all_tags, run_name=name)
        )
        if run is None:
            return None
        run_id = run.info.run_id
        self._pending[run_id] = _PendingRun(params=dict(params))
        self._last_flush[run_id] = time.monotonic()
        return run_id

    def log_epoch(self, run_id: str | None, epoch: int, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        if run_id is None:
            return
        now = int(time.time() * 1000)
        rows = self._buffer.setdefault(run_id, [])
        rows.extend(Metric(k, float(v), now, epoch) for k, v in metrics.items() if k != "epoch")
        if time.monotonic() - self._last_flush.get(run_id, 0.0) > 15.0:  # live curves on long runs
            self._last_flush[run_id] = time.monotonic()
            self._submit(run_id, self._write_batch, run_id, self._buffer.pop(run_id, []), [], [])

    def log_json(self, run_id: str | None, name: str, payload: Mapping[str, Any]) -> None:
        text = json.dumps(_json_ready(payload), indent=2, sort_keys=True)
        self._add_file(run_id, name, text.encode())

    def log_arrays(self, run_id: str | None, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        self._add_file(run_id, name, buffer.getvalue())

    def _add_file(self, run_id: str | None, name: str, content: bytes) -> None:
        if run_id is None:
            return
        if run_id in self._pending:
            self._pending[run_id].files[name] = content
        else:  # a run that already finished (a hardness file logged after its repeat ended)
            self._submit(run_id, self._write_files, run_id, {name: content})

    def finish(self, run_id: str | None, status: str, tags: Mapping[str, str] | None = None) -> None:
        """Queue the run's params, metrics, tags, artifacts and end for the background writer."""
        from mlflow.entities import Param, RunTag

        if run_id is None:
            return
        pending = self._pending.pop(run_id, _PendingRun())
        params = [Param(k, _param_str(v)) for k, v in sorted(pending.params.items())]
        tag_rows = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        metrics = self._buffer.pop(run_id, [])
        self._last_flush.pop(run_id, None)
        end_ms = int(time.time() * 1000)
        self._submit(run_id, self._write_batch, run_id, metrics, params, tag_rows)
        if pending.files:
            self._submit(run_id, self._write_files, run_id, pending.files)
        self._submit(
            run_id,
            lambda: self._retry(
                "end run", lambda: self.client.set_terminated(run_id, status=status, end_time=end_ms)
            ),
        )

    def close(self) -> None:
        """Wait until every queued write is done (call before the process ends)."""
        self._executor.shutdown(wait=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-writer")

    # -- background writes (one thread, so a run's writes keep their order) --

    def _submit(self, run_id: str, fn: Callable[..., Any], *args: Any) -> None:
        self._executor.submit(fn, *args)

    def _write_batch(self, run_id: str, metrics: list[Any], params: list[Any], tags: list[Any]) -> None:
        # log_batch takes at most 1000 entities, 100 of them params and 100 tags, per call.
        while metrics or params or tags:
            p, params = params[:100], params[100:]
            t, tags = tags[:100], tags[100:]
            m, metrics = metrics[: _MAX_BATCH - len(p) - len(t)], metrics[_MAX_BATCH - len(p) - len(t) :]
            self._retry("log batch", lambda m=m, p=p, t=t: self.client.log_batch(run_id, m, p, t))

    def _write_files(self, run_id: str, files: Mapping[str, bytes]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                (Path(tmp) / name).write_bytes(content)
            self._retry("log artifacts", lambda: self.client.log_artifacts(run_id, tmp))


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


def make_tracker(uri: str | None, experiment: str, folder: Path) -> Tracker:
    """The tracker for ``uri``: ``none`` → :class:`NullTracker`; ``None`` → SQLite in ``folder``."""
    if uri is not None and uri.strip().lower() in {"none", "off", "false", ""}:
        return NullTracker()
    artifact_location = None
    if uri is None:
        folder.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{(folder / 'mlflow.db').resolve()}"
        artifact_location = (folder / "mlartifacts").resolve().as_uri()
    import logging

    import mlflow.tracking  # noqa: F401 (configures its loggers on import: quieten them afterwards)

    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowTracker(uri, experiment, artifact_location)
