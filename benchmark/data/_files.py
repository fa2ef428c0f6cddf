"""Shared helpers for real datasets: one-line missing-data errors, IDX files, lazy image folders."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from benchmark.errors import DataCorruptError, DataMissingError

__all__ = ["ImageFiles", "first_existing", "missing", "read_idx"]


def missing(dataset: str, what: str, where: Path, how: str) -> DataMissingError:
    """The one-line error for absent data: what is missing, where it must go, how to get it."""
    return DataMissingError(f"dataset {dataset!r}: {what} not found; it must be at {where}; {how}")


def first_existing(candidates: Sequence[Path]) -> Path | None:
    return next((p for p in candidates if p.exists()), None)


_IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), raw or ``.gz``; a malformed file raises DataCorruptError."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataCorruptError(f"cannot read {path}: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataCorruptError(f"cannot read {path}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataCorruptError(f"cannot read {path}: truncated header")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataCorruptError(
            f"cannot read {path}: truncated or corrupt ({len(data) - header} data bytes, expected {expected})"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class ImageFiles(Dataset[torch.Tensor]):
    """Images read lazily from files, resized to ``size``×``size``: item i is a uint8 (3, size, size) tensor.

    Large image sets (UTKFace, Clothing1M) stay on disk; the engine batches them with a DataLoader.
    """

    def __init__(self, paths: Sequence[Path], size: int) -> None:
        self.paths = list(paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        path = self.paths[index]
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
                arr = np.asarray(rgb, dtype=np.uint8)
        except (OSError, UnidentifiedImageError) as exc:
            raise DataCorruptError(f"cannot read image {path}: {exc}") from exc
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()

    def materialise(self) -> torch.Tensor:
        """All images as one uint8 (N, 3, size, size) tensor (reads every file now)."""
        if not self.paths:
            return torch.empty((0, 3, self.size, self.size), dtype=torch.uint8)
        return torch.stack([self[i] for i in range(len(self))])
