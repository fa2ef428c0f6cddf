"""Fixtures of the method tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import baselines  # noqa: F401  (registers the methods)

# The tests import the tiny harness next to this file; keep that working under --import-mode=importlib.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def float64_default() -> Iterator[None]:
    """Per-sample state follows torch's default dtype; the value-by-value tests run in float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
