"""Unpickle NumPy arrays and nothing else (CIFAR python batches, CIFAR-N label files).

A general unpickler runs whatever a file names, so a downloaded label file could execute code. This
one resolves only the globals NumPy needs to rebuild arrays: ``_reconstruct``, ``ndarray``, ``dtype``
(under both ``numpy.core`` and ``numpy._core``), plus ``_codecs.encode``, which pickle protocol 2 (the
``torch.save`` default) uses to store the arrays' raw bytes. Anything else is refused.
"""

from __future__ import annotations

import codecs
import pickle
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from benchmark.errors import DataCorruptError

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "load_numpy_pickle", "load_torch_zip_pickle"]

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's own _reconstruct, whatever its module
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that resolves only :data:`ALLOWED_GLOBALS` and refuses persistent ids."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to unpickle global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing persistent ids (torch tensors are not supported)")


def _load(handle: IO[bytes], path: Path, encoding: str) -> Any:
    try:
        return RestrictedUnpickler(handle, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise DataCorruptError(f"cannot read {path}: {exc}") from exc


def load_numpy_pickle(path: Path, encoding: str = "latin1") -> Any:
    """Read a plain pickle of dicts/lists/NumPy arrays (e.g. a CIFAR python batch)."""
    with open(path, "rb") as handle:
        return _load(handle, path, encoding)


def load_torch_zip_pickle(path: Path) -> Any:
    """Read the ``data.pkl`` of a ``torch.save`` zip that holds only NumPy objects (CIFAR-N files)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if len(members) != 1:
                raise DataCorruptError(
                    f"cannot read {path}: expected one data.pkl inside, found {len(members)}"
                )
            with archive.open(members[0]) as handle:
                return _load(handle, path, "latin1")
    except zipfile.BadZipFile as exc:
        raise DataCorruptError(f"cannot read {path}: not a torch zip file ({exc})") from exc
