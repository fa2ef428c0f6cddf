"""``real``: the noisy labels a dataset ships with (Clothing1M, CIFAR-N)."""

from __future__ import annotations

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

__all__ = ["real"]


def real(clean: np.ndarray, rate: float, rng: np.random.Generator, ctx: NoiseContext) -> NoiseResult:
    """Use the shipped noisy labels; ``rate`` is only recorded (the data decides the realised rate)."""
    if ctx.shipped is None:
        raise NoiseGenerationError(
            f"noise 'real' needs shipped noisy labels, but dataset {ctx.dataset!r} has none; "
            "use a synthetic noise (e.g. sym-excl) or a dataset such as cifar10n, cifar100n, clothing1m"
        )
    noisy = np.asarray(ctx.shipped).astype(clean.dtype)
    if ctx.task == "classification":
        assert ctx.num_classes is not None
        return classification_result(clean, noisy, ctx.num_classes)
    return regression_result(clean, noisy)


NOISES.add(
    "real",
    NoiseGenerator("real", real, ("classification", "regression")),
    summary="the noisy labels the dataset ships (Clothing1M, CIFAR-N); rate is only recorded",
)
