"""Search-space types: a method's hyperparameter ranges, declared as data so a study file can narrow them.

A method returns ``{name: FloatRange | IntRange | Choice}`` from ``LossMethod.search_space``; a study's
``search:`` entries are parsed into the same types by :func:`parse_distribution`, and the tuner turns them
into Optuna distributions. Public API: a plugin imports these from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchmark.errors import short

__all__ = ["BOUND_MAX", "Choice", "Distribution", "FloatRange", "IntRange", "endpoints", "parse_distribution"]

BOUND_MAX = 2**62
"""Largest search bound a study may give (Optuna samples integers in 64 bits)."""


@dataclass(frozen=True)
class FloatRange:
    """A float hyperparameter drawn from [low, high], log-uniformly when ``log``."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntRange:
    """An integer hyperparameter drawn from {low, low+step, ..., high}."""

    low: int
    high: int
    step: int = 1


@dataclass(frozen=True)
class Choice:
    """A categorical hyperparameter."""

    choices: tuple[Any, ...]


Distribution = FloatRange | IntRange | Choice


def endpoints(dist: Distribution) -> list[Any]:
    """The values whose validity proves the whole distribution valid: the bounds, or every choice."""
    if isinstance(dist, Choice):
        return list(dist.choices)
    return [dist.low, dist.high]


def parse_distribution(value: Any, default: Distribution | None) -> Distribution:
    """Turn a study file's search entry into a distribution (narrowing ``default`` when given).

    ``[low, high]`` keeps the default's kind (integer, log), another list or ``{choices: [...]}`` is a
    categorical, ``{low, high[, log][, step]}`` an explicit range.

    Raises:
        ValueError: a malformed entry, with the reason (the caller adds the key path).
    """
    if isinstance(value, dict):
        if "choices" in value:
            if set(value) != {"choices"} or not value["choices"]:
                raise ValueError("a categorical is {choices: [non-empty list]}")
            return Choice(tuple(value["choices"]))
        unknown = set(value) - {"low", "high", "log", "step"}
        if unknown or not {"low", "high"} <= set(value):
            raise ValueError("a range is {low, high[, log][, step]}")
        low, high = _bound(value["low"], "low"), _bound(value["high"], "high")
        if "step" in value:
            _bound(value["step"], "step")
        dist: Distribution
        if "step" in value or (isinstance(low, int) and isinstance(high, int) and not value.get("log")):
            dist = IntRange(int(low), int(high), int(value.get("step", 1)))
        else:
            dist = FloatRange(float(low), float(high), bool(value.get("log", False)))
    elif isinstance(value, list) and value:
        if isinstance(default, Choice) or len(value) != 2:
            return Choice(tuple(value))
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return Choice(tuple(value))
        low, high = _bound(value[0], "low"), _bound(value[1], "high")
        if isinstance(default, IntRange) or (default is None and all(isinstance(v, int) for v in value)):
            step = default.step if isinstance(default, IntRange) else 1
            if int(low) != low or int(high) != high:
                raise ValueError("an integer hyperparameter needs integer bounds")
            dist = IntRange(int(low), int(high), step)
        else:
            log = default.log if isinstance(default, FloatRange) else False
            dist = FloatRange(float(low), float(high), log)
    else:
        raise ValueError("expected [low, high], a list of choices, {choices: [...]} or {low, high, log}")
    if isinstance(dist, FloatRange | IntRange):
        if not dist.low <= dist.high:
            raise ValueError(f"low <= high must hold, got low={dist.low}, high={dist.high}")
        if isinstance(dist, FloatRange) and dist.log and dist.low <= 0:
            raise ValueError(f"a log range needs low > 0, got low={dist.low}")
        if isinstance(dist, IntRange) and dist.step < 1:
            raise ValueError(f"step must be >= 1, got {dist.step}")
    return dist


def _bound(value: Any, name: str) -> int | float:
    """A search bound: a finite number, integers within Optuna's 64-bit range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}={short(value)} must be a number")
    if not math.isfinite(value) or abs(value) > BOUND_MAX:
        raise ValueError(f"{name}={short(value)} must be finite and within ±2**62")
    return value
