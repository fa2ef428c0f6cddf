"""Output locations proved writable before any work starts, and files written atomically.

A result that took an hour must not be lost to a typo in ``--out``: commands call
:func:`check_output_folder` first (it leaves nothing behind, so bad input still writes nothing), write each
file with :func:`atomic_write` (a temporary file renamed over the target: readers never see half a file)
and, when writing fails at the end anyway, put a copy where it can be written (:func:`rescue_folder`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmark.errors import OutputError, output_error

__all__ = ["atomic_write", "check_output_folder", "rescue_folder"]


def check_output_folder(folder: Path, flag: str = "--out") -> None:
    """Prove that ``folder`` can be created (if absent) and written, without leaving anything there.

    The probe is a temporary directory made and removed in ``folder`` or, when it does not exist yet, in
    its nearest existing ancestor: a location is only accepted when the kernel accepted a real write.

    Raises:
        OutputError: the location is a file, under a file, or cannot be written (read-only, /proc, ...).
    """
    folder = Path(folder)
    target = folder.absolute()
    anchor = target
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if not anchor.is_dir():
        raise OutputError(f"cannot write {folder}: {anchor} is a file, not a folder; pass another {flag}")
    try:
        probe = tempfile.mkdtemp(prefix=".discrimbench-probe-", dir=anchor)
        os.rmdir(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(
            f"cannot write {folder}: {reason} in {anchor} (errno {exc.errno}); pass another {flag}"
        ) from None


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` a temporary file beside ``path``, then rename it over ``path``.

    Raises:
        OutputError: writing or renaming failed; ``path`` is as it was and the temporary file is gone.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise output_error(exc, path) from None


def rescue_folder(prefix: str, write: Callable[[Path], object]) -> Path | None:
    """Write a copy of what could not be written where asked into a new folder under the system's
    temporary directory; returns the folder, or None when that fails too (the caller still has the
    result on stdout)."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
    except OSError:
        return None
    try:
        write(folder)
    except (OSError, OutputError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return folder
