"""Semantic ("asymmetric") class flips for CIFAR: ``asym-cifar10`` and ``asym-cifar100``.

CIFAR-10 (Patrini et al. 2017, as in APL/GCE code): truck → automobile, bird → airplane,
deer → horse, cat ↔ dog, each with probability r; other classes stay. CIFAR-100: the next class inside
each of the 20 superclasses (cyclic, fine classes in index order), with probability r. "Asymmetric" has
no single definition for CIFAR-100 (DivideMix#13); this is the common cyclic one, named as such.
"""

from __future__ import annotations

import numpy as np

from benchmark.data._base import NoiseResult
from benchmark.data.noise._base import NoiseContext, NoiseGenerator, classification_result
from benchmark.registry import NOISES

__all__ = ["CIFAR10_FLIPS", "CIFAR100_COARSE", "asym_cifar10", "asym_cifar100", "cifar100_next_in_superclass"]

# CIFAR-10 class indices: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse,
# 8 ship, 9 truck.
CIFAR10_FLIPS: dict[int, int] = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}

# Coarse (superclass) index of each CIFAR-100 fine class 0..99, as in the dataset's ``coarse_labels``.
CIFAR100_COARSE: tuple[int, ...] = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)  # fmt: skip


def cifar100_next_in_superclass() -> np.ndarray:
    """(100,) int64 map: fine class → next fine class (index order, cyclic) of the same superclass."""
    coarse = np.asarray(CIFAR100_COARSE)
    target = np.empty(100, dtype=np.int64)
    for sup in range(20):
        members = np.flatnonzero(coarse == sup)
        target[members] = np.roll(members, -1)
    return target


def _flip_by_map(clean: np.ndarray, rate: float, rng: np.random.Generator, mapping: np.ndarray) -> np.ndarray:
    flip = rng.random(clean.shape[0]) < rate
    return np.where(flip, mapping[clean], clean)


def asym_cifar10(clean: np.ndarray, rate: float, rng: np.random.Generator, ctx: NoiseContext) -> NoiseResult:
    """CIFAR-10 semantic flips with probability ``rate`` (classes without a partner never change)."""
    mapping = np.arange(10)
    for src, dst in CIFAR10_FLIPS.items():
        mapping[src] = dst
    return classification_result(clean, _flip_by_map(clean, rate, rng, mapping), 10)


def asym_cifar100(clean: np.ndarray, rate: float, rng: np.random.Generator, ctx: NoiseContext) -> NoiseResult:
    """CIFAR-100: next class inside the superclass with probability ``rate``."""
    return classification_result(clean, _flip_by_map(clean, rate, rng, cifar100_next_in_superclass()), 100)


NOISES.add(
    "asym-cifar10",
    NoiseGenerator(
        "asym-cifar10",
        asym_cifar10,
        ("classification",),
        max_rate=lambda _c: (0.5, False),
        needs_classes=10,
        meant_for=("cifar10", "cifar10n"),
    ),
    summary="CIFAR-10 semantic flips w.p. r: truck→automobile, bird→airplane, deer→horse, cat↔dog",
)
NOISES.add(
    "asym-cifar100",
    NoiseGenerator(
        "asym-cifar100",
        asym_cifar100,
        ("classification",),
        max_rate=lambda _c: (0.5, False),
        needs_classes=100,
        meant_for=("cifar100", "cifar100n"),
    ),
    summary="CIFAR-100: w.p. r to the next fine class of the same superclass (cyclic)",
)
