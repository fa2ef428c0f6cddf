"""``rng: official``: rebuild a reference repository's exact noisy labels, draw for draw.

DiscrimBench's own draws come from the run's ``noise`` stream (``rng: project``). With ``rng: official``
a generator instead replays the random calls of the code a paper's labels came from, so that a paper's
label set can be rebuilt bit for bit (the reference code is read for facts only, none is copied):

* ``permute-block`` (DiscrimLoss / Data Parameters, spec b.1): the run seed seeds numpy's legacy global
  generator (``np.random.seed(seed)``), ``np.random.permutation(m)`` with m = floor(N·r) permutes the
  *images* of the first m samples while their labels stay; in label space
  ``noisy[:m] = targets[:m][argsort(perm)]``.
* ``pairflip`` and ``sym-excl`` (Co-teaching ``data/utils.py``): one ``np.random.RandomState(0)`` for every
  run, whatever the seed; for each sample in index order ``multinomial(1, T[y_i], 1)``, whose single 1
  is the noisy label; T built as the reference does. Rate 0 draws nothing.

A ``np.random.RandomState(seed)`` is the same generator as the legacy global one after
``np.random.seed(seed)`` (the tests check it), so the global numpy state of other code is never touched.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from benchmark.errors import NoiseGenerationError

__all__ = ["RNG_MODES", "check_rng", "coteaching_noisify", "coteaching_transition", "discrimloss_permutation"]

RngMode = Literal["project", "official"]
RNG_MODES: tuple[str, ...] = ("project", "official")
COTEACHING_SEED = 0
"""Co-teaching's ``noisify(..., random_state=0)``: the same label set for every run."""


def check_rng(noise: str, value: object) -> None:
    """Refuse an unknown ``rng`` value in one line."""
    if value not in RNG_MODES:
        raise NoiseGenerationError(
            f"noise {noise!r} parameter rng={value!r} is not allowed; use 'project' or 'official'"
        )


def discrimloss_permutation(n_block: int, seed: int | None) -> np.ndarray:
    """The official block permutation, in label space: ``argsort(permutation(n_block))`` of a
    legacy generator seeded with the run seed (noisy[:m] = targets[:m][result])."""
    if seed is None:
        raise NoiseGenerationError("noise 'permute-block' with rng='official' needs the run seed")
    perm = np.random.RandomState(int(seed)).permutation(n_block)
    return np.argsort(perm)


def coteaching_transition(
    kind: Literal["pairflip", "symmetric"], rate: float, num_classes: int
) -> np.ndarray:
    """Row-stochastic T exactly as Co-teaching builds it (same float operations, same order)."""
    c, n = num_classes, rate
    if kind == "pairflip":
        t = np.eye(c)
        t[0, 0], t[0, 1] = 1.0 - n, n
        for i in range(1, c - 1):
            t[i, i], t[i, i + 1] = 1.0 - n, n
        t[c - 1, c - 1], t[c - 1, 0] = 1.0 - n, n
        return t
    t = (n / (c - 1)) * np.ones((c, c))
    for i in range(c):
        t[i, i] = 1.0 - n
    return t


def coteaching_noisify(clean: np.ndarray, transition: np.ndarray, rate: float) -> np.ndarray:
    """One RandomState(0); for each sample in index order the class of ``multinomial(1, T[y_i], 1)``."""
    noisy = clean.copy()
    if rate <= 0.0:
        return noisy
    flipper = np.random.RandomState(COTEACHING_SEED)
    for i, label in enumerate(clean.tolist()):
        noisy[i] = int(np.flatnonzero(flipper.multinomial(1, transition[label], 1)[0])[0])
    return noisy
