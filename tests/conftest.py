"""Test-wide settings: one torch thread per test process (the suite runs under pytest-xdist), and one
PostgreSQL restart at a time."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import torch

torch.set_num_threads(1)

_PG_LOCK = Path(tempfile.gettempdir()) / "discrimbench-tests-postgres.lock"


@pytest.fixture(autouse=True)
def _one_postgres_restart_at_a_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """The PostgreSQL tests of several files share one server and run on both xdist workers: a test that
    restarts the server (marker ``restarts_postgres``) holds it alone, the others share it (a file lock
    across the worker processes)."""
    if request.node.get_closest_marker("postgres") is None:
        yield
        return
    exclusive = request.node.get_closest_marker("restarts_postgres") is not None
    with _PG_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
