"""``permute-block``: the Data Parameters / DiscrimLoss scheme (spec b.1, b.2), for both tasks.

The block is the first floor(N·r) samples in native order (b.1, MNIST/CIFAR/UTKFace) or, with
``block="random"``, a random subset of that size (b.2, DigitSum). The block's targets are permuted among
themselves, so some keep their own value: for classification the realised rate is ≈ r(1−1/C), and the
mask marks only targets that actually changed.
"""

from __future__ import annotations

import math

import numpy as np

from benchmark.data._base import NoiseResult
from benchmark.data.noise._base import (
    NoiseContext,
    NoiseGenerator,
    classification_result,
    regression_result,
)
from benchmark.errors import NoiseGenerationError
from benchmark.registry import NOISES

__all__ = ["permute_block"]


def permute_block(
    clean: np.ndarray, rate: float, rng: np.random.Generator, ctx: NoiseContext, *, block: str = "first"
) -> NoiseResult:
    """Permute the targets of a block of floor(N·rate) samples among themselves.

    Args:
        block: "first" (the first samples in native order) or "random" (a random subset, kept in
            native order, which receives its own targets in a random order).
    """
    n = clean.shape[0]
    n_c = math.floor(n * rate + 1e-9)
    if block == "first":
        idx = np.arange(n_c)
    elif block == "random":
        idx = np.sort(rng.choice(n, size=n_c, replace=False))
    else:
        raise NoiseGenerationError(
            f"noise 'permute-block' parameter block={block!r} is not allowed; use 'first' or 'random'"
        )
    noisy = clean.copy()
    noisy[idx] = clean[idx][rng.permutation(n_c)]
    if ctx.task == "classification":
        assert ctx.num_classes is not None
        return classification_result(clean, noisy, ctx.num_classes)
    return regression_result(clean, noisy)


NOISES.add(
    "permute-block",
    NoiseGenerator(
        "permute-block", permute_block, ("classification", "regression"), defaults={"block": "first"}
    ),
    summary="permute the targets of the first floor(N·r) samples (block='random': a random subset)",
)
