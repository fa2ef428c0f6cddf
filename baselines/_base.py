"""Transition shim: the method API moved to :mod:`benchmark.method` and :mod:`benchmark.space`.

Kept only so modules not yet switched keep importing; new code imports the public modules.
"""

from __future__ import annotations

from baselines.discrimloss import LN_20
from benchmark.method import (
    LossMethod,
    MethodContext,
    MethodParams,
    StepLoss,
    Task,
    TrainPredictor,
)
from benchmark.space import Choice, Distribution, FloatRange, IntRange

__all__ = [
    "LN_20",
    "Choice",
    "Distribution",
    "FloatRange",
    "IntRange",
    "LossMethod",
    "MethodContext",
    "MethodParams",
    "StepLoss",
    "Task",
    "TrainPredictor",
]
