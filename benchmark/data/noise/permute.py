"""``permute-block``: the Data Parameters / DiscrimLoss scheme (spec b.1, b.2), for both tasks.

The block is the first floor(N·r) samples in native order (b.1, MNIST/CIFAR/UTKFace) or, with
``block="random"``, a random subset of that size (b.2, DigitSum). The block's targets are permuted among
themselves, so some keep their own value: for classification the realised rate is ≈ r(1−1/C), and the
mask marks only targets that actually changed.

``rng="official"`` (first block only) replays the official draw with the run seed
(:mod:`benchmark.data.noise.official`).
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
from benchmark.data.noise.official import check_rng, discrimloss_permutation
from benchmark.errors import NoiseGenerationError
from benchmark.registry import NOISES

__all__ = ["permute_block"]


def permute_block(
    clean: np.ndarray,
    rate: float,
    gen: np.random.Generator,
    ctx: NoiseContext,
    *,
    block: str = "first",
    rng: str = "project",
) -> NoiseResult:
    """Permute the targets of a block of floor(N·rate) samples among themselves.

    Args:
        block: "first" (the first samples in native order) or "random" (a random subset, kept in
            native order, which receives its own targets in a random order).
        rng: "project" (the run's noise stream ``gen``) or "official" (the DiscrimLoss code's
            ``np.random.seed(seed)`` draw, block "first" only).
    """
    check_rng("permute-block", rng)
    n = clean.shape[0]
    n_c = math.floor(n * rate + 1e-9)
    if rng == "official":
        if block != "first":
            raise NoiseGenerationError(
                "noise 'permute-block' rng='official' is defined for block='first' only "
                "(the DigitSum code draws its random block with Python's random module)"
            )
        noisy = clean.copy()
        noisy[:n_c] = clean[:n_c][discrimloss_permutation(n_c, ctx.seed)]
        return _result(clean, noisy, ctx)
    if block == "first":
        idx = np.arange(n_c)
    elif block == "random":
        idx = np.sort(gen.choice(n, size=n_c, replace=False))
    else:
        raise NoiseGenerationError(
            f"noise 'permute-block' parameter block={block!r} is not allowed; use 'first' or 'random'"
        )
    noisy = clean.copy()
    noisy[idx] = clean[idx][gen.permutation(n_c)]
    return _result(clean, noisy, ctx)


def _result(clean: np.ndarray, noisy: np.ndarray, ctx: NoiseContext) -> NoiseResult:
    if ctx.task == "classification":
        assert ctx.num_classes is not None
        return classification_result(clean, noisy, ctx.num_classes)
    return regression_result(clean, noisy)


NOISES.add(
    "permute-block",
    NoiseGenerator(
        "permute-block",
        permute_block,
        ("classification", "regression"),
        defaults={"block": "first", "rng": "project"},
    ),
    summary="permute the targets of the first floor(N·r) samples (block='random': a random subset)",
)
