"""Test-wide settings: one torch thread per test process (the suite runs under pytest-xdist)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import torch

torch.set_num_threads(1)
