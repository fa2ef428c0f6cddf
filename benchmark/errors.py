"""The project's exception types.

Every error a user can cause derives from :class:`DiscrimBenchError`; the CLI turns each into one line on
stderr and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "DataCorruptError",
    "DataMissingError",
    "DiscrimBenchError",
    "HyperparameterError",
    "NoiseGenerationError",
    "OutputError",
    "StudyConfigError",
    "TrackingError",
    "UnknownComponentError",
    "close_names",
    "did_you_mean",
    "short",
]


class DiscrimBenchError(Exception):
    """Root of every error caused by user input, configuration or missing data."""


class UnknownComponentError(DiscrimBenchError, LookupError):
    """Raised when a registry is asked for a name it does not hold."""


class HyperparameterError(DiscrimBenchError, ValueError):
    """Raised when a method, dataset or recipe parameter is outside its allowed range."""


class StudyConfigError(DiscrimBenchError, ValueError):
    """Raised when a study file or CLI override is malformed; the message carries the key path."""


class NoiseGenerationError(DiscrimBenchError, ValueError):
    """Raised when a noise generator is asked for a rate or a task it cannot realise."""


class DataMissingError(DiscrimBenchError, FileNotFoundError):
    """Raised when a real dataset is not under the data root; the message says where it must go."""


class DataCorruptError(DiscrimBenchError, ValueError):
    """Raised when a dataset file exists but cannot be parsed; the message names the file."""


class TrackingError(DiscrimBenchError, RuntimeError):
    """Raised when an Optuna storage or MLflow tracking store cannot be used."""


class OutputError(DiscrimBenchError, RuntimeError):
    """Raised when an output folder or file cannot be written (read-only, permissions, no space left).

    Writers use temporary files and atomic renames, so what was recorded before stays intact.
    """


def close_names(name: object, names: Iterable[str]) -> list[str]:
    """The (at most three) ``names`` closest to ``name``, closest first (difflib, cutoff 0.5)."""
    return difflib.get_close_matches(str(name), list(names), n=3, cutoff=0.5)


def did_you_mean(name: object, names: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` naming the closest of ``names`` to ``name`` (difflib), or ``""``: every
    "unknown key" message ends with it, so a typo is answered with the name that was meant."""
    close = close_names(name, names)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error line never repeats a huge value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


WRITE_ERRNOS = frozenset({1, 13, 28, 30, 122})  # EPERM, EACCES, ENOSPC, EROFS, EDQUOT


def output_error(exc: OSError, target: object) -> OutputError:
    """The one-line :class:`OutputError` for an ``OSError`` raised while writing ``target``."""
    reason = exc.strerror or str(exc)
    return OutputError(
        f"cannot write {target}: {reason} (errno {exc.errno}); free space or fix permissions, or pass "
        "another --out; files already written are unchanged"
    )
