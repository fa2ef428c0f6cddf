"""Independent random streams derived from one run seed.

The noise realisation must depend only on (dataset, noise, rate, seed), never on the method, so that all
methods of a cell are compared on the same labels (paired comparisons). Initialisation and data order get
their own streams so that changing one never shifts another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["SeedStreams", "seed_streams"]

_STREAMS = ("noise", "split", "init", "order")


@dataclass(frozen=True)
class SeedStreams:
    """Integer seeds of the four streams of a run (each a 63-bit integer)."""

    noise: int
    split: int
    init: int
    order: int

    def numpy(self, stream: str) -> np.random.Generator:
        return np.random.default_rng(getattr(self, stream))

    def torch(self, stream: str, device: str | torch.device = "cpu") -> torch.Generator:
        gen = torch.Generator(device=device)
        gen.manual_seed(getattr(self, stream))
        return gen


def seed_streams(seed: int) -> SeedStreams:
    """Spawn the noise / split / init / order streams of ``seed`` with ``numpy.random.SeedSequence``."""
    children = np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
    values = [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]
    return SeedStreams(**dict(zip(_STREAMS, values, strict=True)))
