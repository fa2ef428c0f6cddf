"""Class-conditional noise with a fixed transition structure: ``sym-excl``, ``sym-incl``, ``pairflip``.

Each sample is corrupted independently with probability ``rate`` (a per-sample Bernoulli draw, as in
Co-teaching's ``noisify_multiclass_symmetric``), so the realised rate is binomial around its target.
All random numbers are drawn for every sample, whatever the rate, so the draws line up across rates.
``sym-excl`` and ``pairflip`` also take ``rng="official"``: Co-teaching's own draw (one RandomState(0)
for every run, a multinomial per sample; :mod:`benchmark.data.noise.official`).
"""

from __future__ import annotations

import numpy as np

from benchmark.data._base import NoiseResult
from benchmark.data.noise._base import NoiseContext, NoiseGenerator, classification_result
from benchmark.data.noise.official import check_rng, coteaching_noisify, coteaching_transition
from benchmark.registry import NOISES

__all__ = ["pairflip", "sym_excl", "sym_incl"]


def _classes(ctx: NoiseContext) -> int:
    assert ctx.num_classes is not None  # guaranteed by NoiseGenerator.check (classification only)
    return ctx.num_classes


def sym_excl(
    clean: np.ndarray, rate: float, gen: np.random.Generator, ctx: NoiseContext, *, rng: str = "project"
) -> NoiseResult:
    """With probability ``rate`` replace the label by one of the *other* C−1 classes, uniformly.

    Transition matrix: diagonal 1−r, off-diagonal r/(C−1). Realised rate ≈ r. ``rng="official"``:
    Co-teaching's ``noisify_multiclass_symmetric``.
    """
    check_rng("sym-excl", rng)
    c = _classes(ctx)
    if rng == "official":
        noisy = coteaching_noisify(clean, coteaching_transition("symmetric", rate, c), rate)
        return classification_result(clean, noisy, c)
    flip = gen.random(clean.shape[0]) < rate
    offset = gen.integers(1, c, size=clean.shape[0])
    noisy = np.where(flip, (clean + offset) % c, clean)
    return classification_result(clean, noisy, c)


def sym_incl(clean: np.ndarray, rate: float, rng: np.random.Generator, ctx: NoiseContext) -> NoiseResult:
    """With probability ``rate`` replace the label by a class drawn uniformly from all C (true one included).

    Transition matrix: diagonal 1−r+r/C, off-diagonal r/C. Realised rate ≈ r(1−1/C) (DivideMix's
    "symmetric").
    """
    c = _classes(ctx)
    flip = rng.random(clean.shape[0]) < rate
    draw = rng.integers(0, c, size=clean.shape[0])
    return classification_result(clean, np.where(flip, draw, clean), c)


def pairflip(
    clean: np.ndarray, rate: float, gen: np.random.Generator, ctx: NoiseContext, *, rng: str = "project"
) -> NoiseResult:
    """With probability ``rate`` relabel class i as (i+1) mod C (Co-teaching's "pairflip").

    Transition matrix: diagonal 1−r, super-diagonal (and the wrap-around corner) r. ``rng="official"``:
    Co-teaching's ``noisify_pairflip``.
    """
    check_rng("pairflip", rng)
    c = _classes(ctx)
    if rng == "official":
        noisy = coteaching_noisify(clean, coteaching_transition("pairflip", rate, c), rate)
        return classification_result(clean, noisy, c)
    flip = gen.random(clean.shape[0]) < rate
    return classification_result(clean, np.where(flip, (clean + 1) % c, clean), c)


def _excl_bound(c: int | None) -> tuple[float, bool]:
    return ((c - 1) / c if c else 1.0), True


NOISES.add(
    "sym-excl",
    NoiseGenerator(
        "sym-excl", sym_excl, ("classification",), max_rate=_excl_bound, defaults={"rng": "project"}
    ),
    summary="flip w.p. r to one of the other C-1 classes (T: diag 1-r, off-diag r/(C-1))",
)
NOISES.add(
    "sym-incl",
    NoiseGenerator("sym-incl", sym_incl, ("classification",)),
    summary="resample w.p. r uniformly over all C classes, true class included (realised ≈ r(1-1/C))",
)
NOISES.add(
    "pairflip",
    NoiseGenerator(
        "pairflip",
        pairflip,
        ("classification",),
        max_rate=lambda _c: (0.5, False),
        defaults={"rng": "project"},
    ),
    summary="flip w.p. r from class i to (i+1) mod C (Co-teaching pairflip; r < 0.5)",
)
