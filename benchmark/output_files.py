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
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import OutputError, output_error

__all__ = [
    "FolderProblem",
    "atomic_write",
    "check_output_folder",
    "filesystem",
    "folder_problem",
    "rescue_folder",
]


@dataclass(frozen=True)
class FolderProblem:
    """Why a folder cannot be created and written: ``anchor`` is its nearest existing ancestor (itself
    when it exists), ``reason`` completes "cannot write ...: "."""

    anchor: Path
    reason: str
    not_a_folder: bool = False


def folder_problem(folder: Path) -> FolderProblem | None:
    """The one check of an output location: None when ``folder`` can be created (if absent) and written.

    A temporary directory is made and removed in ``folder`` or, when it does not exist yet, in its nearest
    existing ancestor: a location is only accepted when the kernel accepted a real write, and nothing is
    left behind. Read-only and pseudo filesystems (``/proc``) are named as such.
    """
    anchor = Path(folder).absolute()
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if not anchor.is_dir():
        return FolderProblem(anchor, f"{anchor} is a file, not a folder", not_a_folder=True)
    fs = filesystem(anchor)
    if fs in _PSEUDO_FILESYSTEMS or os.statvfs(anchor).f_flag & os.ST_RDONLY:
        return FolderProblem(anchor, f"{anchor} is on a read-only {fs or ''} filesystem")
    try:
        probe = tempfile.mkdtemp(prefix=".discrimbench-probe-", dir=anchor)
        os.rmdir(probe)
    except OSError as exc:
        return FolderProblem(anchor, f"{exc.strerror or exc} in {anchor} (errno {exc.errno})")
    return None


def check_output_folder(folder: Path, flag: str = "--out") -> None:
    """Prove that ``folder`` can be created (if absent) and written, without leaving anything there
    (:func:`folder_problem`).

    Raises:
        OutputError: the location is a file, under a file, or cannot be written (read-only, /proc, ...).
    """
    problem = folder_problem(folder)
    if problem is not None:
        raise OutputError(f"cannot write {folder}: {problem.reason}; pass another {flag}")


_PSEUDO_FILESYSTEMS = frozenset({"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs"})


def filesystem(path: Path) -> str | None:
    """The type of the filesystem holding ``path`` (Linux's /proc/mounts; None elsewhere)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, kind = "", None
    resolved = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


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
