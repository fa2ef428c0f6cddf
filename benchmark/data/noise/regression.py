"""``gaussian``: additive Gaussian noise on a random fraction of regression targets."""

from __future__ import annotations

import numpy as np

from benchmark.data._base import NoiseResult
from benchmark.data.noise._base import NoiseContext, NoiseGenerator, regression_result
from benchmark.errors import NoiseGenerationError
from benchmark.registry import NOISES

__all__ = ["gaussian"]


def gaussian(
    clean: np.ndarray, rate: float, rng: np.random.Generator, ctx: NoiseContext, *, std: float | None = None
) -> NoiseResult:
    """Add N(0, std²) to each target independently with probability ``rate``.

    Args:
        std: noise standard deviation in target units; None uses the clean targets' own standard
            deviation, so the default noise is as large as the signal's spread.
    """
    sd = float(np.std(clean)) if std is None else float(std)
    if not np.isfinite(sd) or sd <= 0:
        raise NoiseGenerationError(f"noise 'gaussian' needs std > 0, got std={std!r} (resolved {sd})")
    chosen = rng.random(clean.shape[0]) < rate
    delta = rng.normal(0.0, sd, size=clean.shape[0])
    noisy = np.where(chosen, clean + delta, clean)
    return regression_result(clean, noisy)


NOISES.add(
    "gaussian",
    NoiseGenerator("gaussian", gaussian, ("regression",), defaults={"std": None}),
    summary="regression: add N(0, std) to each target w.p. r (std defaults to the targets' std)",
)
