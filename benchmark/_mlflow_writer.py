"""The MLflow writer process: every MLflow call of a study process happens here, on another core.

Tracking a run costs tens of milliseconds of Python per call (SQLAlchemy, file copies). Done in the
training process it adds up to a large share of a study of small models, and a thread does not help
because it holds the same interpreter lock. The training process therefore only puts plain tuples on a
queue; this process turns them into ``MlflowClient`` calls, in order, and answers with the MLflow run id of
each run it creates. It never imports torch.

One writer serves the process that started it and that process's ``--workers``: every client puts its jobs
on the one queue and receives its answers on a queue of its own (``replies[client]``).

If the owning process dies (SIGKILL included), the writer finishes what is already queued and exits;
the last run's MLflow copy may then be incomplete, while the study's results live in the Optuna storage.
"""

from __future__ import annotations

import functools
import os
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from benchmark.host_process import pid_alive
from benchmark.tracking_tags import OWNER_TAG, REPLACES_TAG, UNIT_TAG

T = TypeVar("T")

_MAX_BATCH = 1000  # entities per log_batch call (at most 100 params and 100 tags of them)
# The tag MLflow 3's UI reads to open an experiment on its runs table rather than the GenAI views when its
# workflow toggle is off (releases before the toggle). From the toggle on (3.17 included) the UI ignores
# experiment tags for this and follows the URL's workflowType or the user's stored choice (README,
# tests/test_mlflow_ui.py).
RUNS_VIEW_TAG = ("mlflow.experimentKind", "custom_model_development")


def open_client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri``, quiet, and with MLflow's usage telemetry off unless the user set
    ``MLFLOW_DISABLE_TELEMETRY`` or ``DO_NOT_TRACK`` themselves.

    MLflow 3 reports the use of its tracking calls to its developers from background threads by default:
    a benchmark that runs offline or on a cluster should not send anything, and recording the calls costs
    the writer CPU time that the training processes need on a small machine. Its per-artifact download
    bars are off too (the report downloads one small file per run; the bars flooded the console).
    """
    import logging

    if "DO_NOT_TRACK" not in os.environ:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.tracking import MlflowClient

    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri)


def tag_runs_view(client: Any, experiment_id: str) -> None:
    """Tag the experiment with :data:`RUNS_VIEW_TAG` unless it already is.

    Workers on several machines start against one tracking server at once: two of them setting the tag at
    the same moment make the server refuse one insert (PostgreSQL: duplicate key), and that worker must go
    on, since the tag is there."""

    def tagged() -> bool:
        return bool(client.get_experiment(experiment_id).tags.get(RUNS_VIEW_TAG[0]) == RUNS_VIEW_TAG[1])

    if tagged():
        return
    try:
        client.set_experiment_tag(experiment_id, *RUNS_VIEW_TAG)
    except Exception:
        if not tagged():
            raise


def writer_main(
    uri: str, experiment: str, artifact_location: str | None, jobs: Any, replies: list[Any], parent_pid: int
) -> None:
    """Serve ``jobs`` until a ``("close",)`` job or the parent's death; see :class:`MlflowTracker`.

    ``replies[0]`` belongs to the owning process (it also hears whether the store opened); ``replies[i]``
    to its ``i``-th worker.
    """
    try:
        client = open_client(uri)
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
        tag_runs_view(client, experiment_id)
    except Exception as exc:
        replies[0].put(("error", f"{type(exc).__name__}: {exc}"))
        return
    replies[0].put(("ready", experiment_id))
    _Writer(client, experiment_id, replies, uri).serve(jobs, parent_pid)


class _Writer:
    def __init__(self, client: Any, experiment_id: str, replies: list[Any], uri: str) -> None:
        self.client, self.experiment_id, self.replies, self.uri = client, experiment_id, replies, uri
        self.ids: dict[str, str] = {}  # the trackers' run keys → MLflow run ids
        self.replaced: dict[str, str] = {}  # a unit of work → the killed run its next attempt replaces
        self.artifact_uris: dict[str, str] = {}  # MLflow run id → its artifact URI, known from creation

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

    def _create(self, client: int, key: str, name: str, tags: dict[str, str], start_ms: int) -> None:
        killed = self.replaced.pop(tags.get(UNIT_TAG, ""), None)
        if killed:
            tags = {**tags, REPLACES_TAG: killed}  # the UI tells the story: this attempt retries that one
        run = self._retry(
            "create run",
            lambda: self.client.create_run(self.experiment_id, start_time=start_ms, tags=tags, run_name=name),
        )
        run_id = None if run is None else run.info.run_id
        if run is not None:
            self.ids[key] = run.info.run_id
            self.artifact_uris[run.info.run_id] = run.info.artifact_uri
        self.replies[client].put(("id", (key, run_id)))

    def _batch(
        self,
        key: str,
        metrics: list[tuple[Any, ...]],
        params: list[tuple[Any, ...]],
        tags: list[tuple[Any, ...]],
    ) -> None:
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
            self._retry("log batch", functools.partial(self.client.log_batch, run_id, m_now, p_now, t_now))

    def _files(self, key: str, files: dict[str, bytes]) -> None:
        run_id = self.ids.get(key, key)
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                (Path(tmp) / name).write_bytes(content)
            self._retry("log artifacts", lambda: self._artifact_repository(run_id).log_artifacts(tmp))

    def _artifact_repository(self, run_id: str) -> Any:
        """The run's artifact store, from the artifact URI that came with the run's creation
        (``MlflowClient.log_artifacts`` would first fetch the run from the tracking store to learn it)."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        uri = self.artifact_uris.get(run_id)
        if uri is None:
            uri = self.client.get_run(run_id).info.artifact_uri
        return get_artifact_repository(uri, tracking_uri=self.uri)

    def _end(self, key: str, status: str, end_ms: int) -> None:
        run_id = self.ids.get(key, key)
        self._retry("end run", lambda: self.client.set_terminated(run_id, status=status, end_time=end_ms))

    def _reap(self, host: str, now_ms: int) -> None:
        """End the runs left RUNNING by dead processes of this host as KILLED, and remember, per unit of
        work, the killed run (by a kill or an interrupt) that the unit's next attempt replaces."""
        runs = self._retry("search runs", lambda: self._all_runs()) or []
        already = {r.data.tags.get(REPLACES_TAG) for r in runs}
        for run in sorted(runs, key=lambda r: r.info.start_time or 0):
            tags = run.data.tags
            o_host, _, o_pid = tags.get(OWNER_TAG, "").rpartition(":")
            if (
                run.info.status == "RUNNING"
                and o_host == host
                and o_pid.isdigit()
                and not pid_alive(int(o_pid))
            ):
                run_id = run.info.run_id
                self._retry(
                    "tag run", functools.partial(self.client.set_tag, run_id, "discrimbench.status", "killed")
                )
                self._end(run_id, "KILLED", now_ms)
                tags = {**tags, "discrimbench.status": "killed"}
            elif run.info.status != "KILLED":
                continue
            unit = tags.get(UNIT_TAG)
            retried = tags.get("discrimbench.status") in ("killed", "interrupted")
            if unit and retried and run.info.run_id not in already:
                self.replaced[unit] = run.info.run_id

    def _all_runs(self) -> list[Any]:
        out: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([self.experiment_id], max_results=1000, page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    def _reopen(self, run_id: str) -> None:
        """A cell's parent run ended KILLED by an interrupt runs again while the study resumes."""
        self._retry("reopen run", lambda: self.client.update_run(run_id, status="RUNNING"))
