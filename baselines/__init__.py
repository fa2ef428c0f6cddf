"""The loss methods compared by DiscrimBench, one module each (importing this registers them)."""

from __future__ import annotations

from baselines._base import LossMethod
from benchmark.registry import METHODS

METHODS.base = LossMethod  # registration now checks that every method subclasses the contract

from baselines import ce, coteaching, discrimloss, gce, superloss  # noqa: E402  (registers them)

__all__ = ["ce", "coteaching", "discrimloss", "gce", "superloss"]
