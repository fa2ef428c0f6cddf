"""``idn``: instance-dependent noise of Xia et al., "Part-dependent label noise" (NeurIPS 2020).

Variant implemented (the reference function is copy-pasted across repositories with differences):

1. per-sample flip rates q_i ~ TruncNormal(mean=r, std=``norm_std``) truncated to [0, ``flip_max``]
   (``flip_max=1`` as in Xia et al.'s code; some forks use 0.6);
2. W ~ N(0, 1) of shape (C, D, C), float32; x_i is the flattened input as float (uint8 images scaled to
   [0, 1]); logits a = x_i · W[y_i], with a[y_i] = −inf;
3. p_i = q_i · softmax(a), then p_i[y_i] = 1 − q_i; the noisy label is drawn from p_i.

Everything runs on the CPU with numpy from the one ``rng`` (the run's noise stream), in the order
q, W, label draws, so a seed gives the same labels on any machine. The expected realised rate is
E[q] (the truncated normal's mean), which is ≈ r for moderate r.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from benchmark.data._base import NoiseResult
from benchmark.data.noise._base import NoiseContext, NoiseGenerator, classification_result
from benchmark.errors import NoiseGenerationError
from benchmark.registry import NOISES

__all__ = ["flip_rate_distribution", "idn"]


def flip_rate_distribution(rate: float, norm_std: float, flip_max: float) -> Any:
    """The truncated normal of the per-sample flip rates (its ``mean()`` is the expected noise rate)."""
    return stats.truncnorm((0.0 - rate) / norm_std, (flip_max - rate) / norm_std, loc=rate, scale=norm_std)


def _features(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(x.shape[0], -1)
    if flat.dtype == np.uint8:
        return flat.astype(np.float32) / 255.0
    return flat.astype(np.float32)


def idn(
    clean: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    ctx: NoiseContext,
    *,
    norm_std: float = 0.1,
    flip_max: float = 1.0,
) -> NoiseResult:
    """Instance-dependent label noise (see the module docstring for the exact variant)."""
    if not (norm_std > 0 and 0 < flip_max <= 1 and rate <= flip_max):
        raise NoiseGenerationError(
            f"noise 'idn' needs norm_std > 0 and rate <= flip_max <= 1, got norm_std={norm_std}, "
            f"flip_max={flip_max}, rate={rate}"
        )
    assert ctx.x is not None and ctx.num_classes is not None
    c, n = ctx.num_classes, clean.shape[0]
    if rate == 0.0:
        return classification_result(clean, clean.copy(), c)
    dim = int(np.prod(ctx.x.shape[1:]))
    q = np.asarray(
        flip_rate_distribution(rate, norm_std, flip_max).rvs(n, random_state=rng), dtype=np.float64
    )
    w = rng.standard_normal((c, dim, c), dtype=np.float32)
    probs = np.empty((n, c), dtype=np.float64)
    for k in range(c):
        rows = np.flatnonzero(clean == k)
        if rows.size == 0:
            continue
        logits = (_features(ctx.x[rows]) @ w[k]).astype(np.float64)  # one class at a time: less memory
        logits[:, k] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        soft = np.exp(logits)
        soft /= soft.sum(axis=1, keepdims=True)
        probs[rows] = q[rows, None] * soft
        probs[rows, k] = 1.0 - q[rows]
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(n) * cdf[:, -1]
    noisy = np.minimum((cdf < u[:, None]).sum(axis=1), c - 1)
    return classification_result(clean, noisy.astype(clean.dtype), c)


NOISES.add(
    "idn",
    NoiseGenerator(
        "idn",
        idn,
        ("classification",),
        defaults={"norm_std": 0.1, "flip_max": 1.0},
        needs_inputs=True,
    ),
    summary="instance-dependent noise (Xia et al. 2020), numpy on CPU; params norm_std, flip_max",
)
