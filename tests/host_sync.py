"""A dispatch mode that records every operation reading a device value back to the host, for the tests
that hold training steps (of a method, of the engine) to "no host sync per step"."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["HostSyncDetector"]


class HostSyncDetector(TorchDispatchMode):
    """Records every op that copies a device value to the host (``.item()``, ``float(t)``, ``bool(t)``,
    ``nonzero``)."""

    def __init__(self) -> None:
        super().__init__()
        self.syncs: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func in (torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default):
            self.syncs.append(str(func))
        return func(*args, **(kwargs or {}))
