"""The MLflow writer process: every MLflow call of a study process happens here, on another core.

Tracking a run costs tens of milliseconds of Python per call (SQLAlchemy, file copies). Done in the
training process it adds up to a large share of a study of small models, and a thread does not help
because it holds the same interpreter lock. The training process therefore only puts plain tuples on a
queue; this process turns them into ``MlflowClient`` calls, in order, and answers with the MLflow run id of
each run it creates. It never imports torch.

If the training process dies (SIGKILL included), the writer finishes what is already queued and exits;
the last run's MLflow copy may then be incomplete, while the study's results live in the Optuna storage.
"""

from __future__ import annotations

import os
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_MAX_BATCH = 1000  # entities per log_batch call (at most 100 params and 100 tags of them)


def writer_main(
    uri: str, experiment: str, artifact_location: str | None, jobs: Any, replies: Any, parent_pid: int
) -> None:
    """Serve ``jobs`` until a ``("close",)`` job or the parent's death; see :class:`MlflowTracker`."""
    import logging

    from mlflow.tracking import MlflowClient

    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            try:
                experiment_id = client.create_experiment(experiment, artifact_location)
            except Exception:  # another worker created it first
                found = client.get_experiment_by_name(experiment)
                if found is None:
                    raise
                experiment_id = found.experiment_id
        else:
            experiment_id = found.experiment_id
    except Exception as exc:
        replies.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    replies.put(("ready", experiment_id))
    _Writer(client, experiment_id, replies, uri).serve(jobs, parent_pid)


class _Writer:
    def __init__(self, client: Any, experiment_id: str, replies: Any, uri: str) -> None:
        self.client, self.experiment_id, self.replies, self.uri = client, experiment_id, replies, uri
        self.ids: dict[str, str] = {}  # the tracker's run keys → MLflow run ids

    def serve(self, jobs: Any, parent_pid: int) -> None:
        orphan = False
        while True:
            try:
                job = jobs.get(timeout=0.2 if orphan else 2.0)
            except queue.Empty:
                if orphan:
                    return  # the parent is gone and nothing more is queued
                orphan = os.getppid() != parent_pid
                continue
            if job[0] == "close":
                self.replies.put(("closed", None))
                return
            getattr(self, f"_{job[0]}")(*job[1:])

    def _retry(self, what: str, fn: Callable[[], T]) -> T | None:
        for attempt in range(4):
            try:
                return fn()
            except Exception as exc:  # tracking must never kill a finished run
                if attempt == 3:
                    print(f"warning: MLflow {what} failed: {exc}", file=sys.stderr)
                    return None
                time.sleep(0.2 * 2**attempt)
        return None

    def _create(self, key: str, name: str, tags: dict[str, str], start_ms: int) -> None:
        run = self._retry(
            "create run",
            lambda: self.client.create_run(self.experiment_id, start_time=start_ms, tags=tags, run_name=name),
        )
        run_id = None if run is None else run.info.run_id
        if run_id is not None:
            self.ids[key] = run_id
        self.replies.put(("id", (key, run_id)))

    def _batch(self, key: str, metrics: list[tuple], params: list[tuple], tags: list[tuple]) -> None:
        from mlflow.entities import Metric, Param, RunTag

        run_id = self.ids.get(key, key)
        m = [Metric(*row) for row in metrics]
        p = [Param(*row) for row in params]
        t = [RunTag(*row) for row in tags]
        while m or p or t:
            p_now, p = p[:100], p[100:]
            t_now, t = t[:100], t[100:]
            room = _MAX_BATCH - len(p_now) - len(t_now)
            m_now, m = m[:room], m[room:]
            self._retry("log batch", lambda a=m_now, b=p_now, c=t_now: self.client.log_batch(run_id, a, b, c))

    def _files(self, key: str, files: dict[str, bytes]) -> None:
        run_id = self.ids.get(key, key)
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                (Path(tmp) / name).write_bytes(content)
            self._retry("log artifacts", lambda: self.client.log_artifacts(run_id, tmp))

    def _end(self, key: str, status: str, end_ms: int) -> None:
        run_id = self.ids.get(key, key)
        self._retry("end run", lambda: self.client.set_terminated(run_id, status=status, end_time=end_ms))
