"""Experiment tracking: MLflow (the default, a SQLite store in the study folder) and a no-op tracker.

The study runner talks to a :class:`Tracker` only. :class:`MlflowTracker` uses ``MlflowClient`` directly
(never the fluent ``mlflow.start_run`` API, whose global active-run stack mixes up nested runs across
trials and processes): a parent run per cell, child runs per trial and per repeat linked by the
``mlflow.parentRunId`` tag. Per-epoch metrics are buffered and written with ``log_batch``. A tracking
failure (a locked SQLite file, a server hiccup) is retried and then reported as a warning: losing a
metric must not lose a finished training run.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
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
        from mlflow.entities import Param

        all_tags = {**tags, **({"mlflow.parentRunId": parent} if parent else {})}
        run = self._retry(
            "create run", lambda: self.client.create_run(self.experiment_id, tags=all_tags, run_name=name)
        )
        if run is None:
            return None
        run_id = run.info.run_id
        plist = [Param(k, _param_str(v)) for k, v in sorted(params.items())]
        for i in range(0, len(plist), 100):
            self._retry(
                "log params", lambda chunk=plist[i : i + 100]: self.client.log_batch(run_id, params=chunk)
            )
        self._last_flush[run_id] = time.monotonic()
        return run_id

    def log_epoch(self, run_id: str | None, epoch: int, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        if run_id is None:
            return
        now = int(time.time() * 1000)
        rows = self._buffer.setdefault(run_id, [])
        rows.extend(Metric(k, float(v), now, epoch) for k, v in metrics.items() if k != "epoch")
        if time.monotonic() - self._last_flush.get(run_id, 0.0) > 15.0:
            self._flush(run_id)

    def _flush(self, run_id: str) -> None:
        rows = self._buffer.pop(run_id, [])
        self._last_flush[run_id] = time.monotonic()
        for i in range(0, len(rows), _MAX_BATCH):
            chunk = rows[i : i + _MAX_BATCH]
            self._retry("log metrics", lambda chunk=chunk: self.client.log_batch(run_id, metrics=chunk))

    def log_json(self, run_id: str | None, name: str, payload: Mapping[str, Any]) -> None:
        if run_id is None:
            return
        self._retry("log artifact", lambda: self.client.log_dict(run_id, _json_ready(payload), name))

    def log_arrays(self, run_id: str | None, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        if run_id is None:
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})
            self._retry("log artifact", lambda: self.client.log_artifact(run_id, str(path)))

    def finish(self, run_id: str | None, status: str, tags: Mapping[str, str] | None = None) -> None:
        from mlflow.entities import RunTag

        if run_id is None:
            return
        self._flush(run_id)
        if tags:
            tag_rows = [RunTag(k, str(v)) for k, v in tags.items()]
            self._retry("set tags", lambda: self.client.log_batch(run_id, tags=tag_rows))
        self._retry("end run", lambda: self.client.set_terminated(run_id, status=status))
        self._last_flush.pop(run_id, None)


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

    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowTracker(uri, experiment, artifact_location)
