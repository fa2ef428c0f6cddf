"""Per-sample hardness from the clean-label CE runs, kept per dataset and seed in the study folder
(same seed → same split, so the indices line up with every other method's run of that seed)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["HardnessStore"]


@dataclass(frozen=True)
class HardnessStore:
    """``hardness/{dataset}/seed-{seed}.npy`` under ``folder``, written once, atomically."""

    folder: Path

    def path(self, dataset: str, seed: int) -> Path:
        return self.folder / "hardness" / dataset / f"seed-{seed}.npy"

    def load(self, dataset: str, seed: int) -> np.ndarray[Any, Any] | None:
        path = self.path(dataset, seed)
        return np.load(path) if path.exists() else None

    def save(self, dataset: str, seed: int, values: Any) -> bool:
        """Write ``values`` unless there are none or a file is already there; True when written."""
        path = self.path(dataset, seed)
        if values is None or path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, np.asarray(values, dtype=np.float32))
        os.replace(tmp, path)
        return True
