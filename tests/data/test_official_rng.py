"""``rng: official``: the reference repositories' label draws, rebuilt from their formulas by hand on
small arrays (DiscrimLoss permute-block: np.random.seed(seed), permutation of the block's images;
Co-teaching: RandomState(0), multinomial(1, T[y_i], 1) per sample in index order)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data import NoiseContext, prepare
from benchmark.errors import NoiseGenerationError
from benchmark.registry import NOISES, load_builtin_components

load_builtin_components()

CLEAN = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4], dtype=np.int64)
CTX10 = NoiseContext("classification", 10, seed=7)


def _apply(name: str, rate: float, ctx: NoiseContext = CTX10, clean: np.ndarray = CLEAN, **params: object):
    return NOISES.get(name).apply(clean, rate, np.random.default_rng(99), ctx, {"rng": "official", **params})


def _global_legacy_permutation(seed: int, m: int) -> np.ndarray:
    """What the reference does, on numpy's global legacy generator (its state restored afterwards)."""
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        return np.random.permutation(m)
    finally:
        np.random.set_state(saved)


def test_permute_block_official_moves_the_block_images() -> None:
    """The reference permutes the first m images, labels in place: the image at block position j
    is the old image perm[j] and keeps label clean[j]; so image perm[j] now carries clean[j]."""
    m = 10  # floor(20 · 0.5)
    perm = _global_legacy_permutation(7, m)
    expected = CLEAN.copy()
    for j in range(m):
        expected[perm[j]] = CLEAN[j]
    before = np.random.get_state()
    result = _apply("permute-block", 0.5)
    after = np.random.get_state()
    np.testing.assert_array_equal(result.noisy, expected)
    np.testing.assert_array_equal(result.noisy[:m], CLEAN[:m][np.argsort(perm)])  # the formula
    np.testing.assert_array_equal(result.noisy[m:], CLEAN[m:])
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_randomstate_equals_the_seeded_global_generator() -> None:
    """The implementation uses RandomState(seed): identical draws to np.random.seed(seed) + global."""
    for seed in (0, 1, 5, 12345):
        for m in (1, 7, 4500):
            np.testing.assert_array_equal(
                np.random.RandomState(seed).permutation(m), _global_legacy_permutation(seed, m)
            )


def test_permute_block_official_follows_the_run_seed_and_refuses_the_random_block() -> None:
    other = _apply("permute-block", 0.5, NoiseContext("classification", 10, seed=8))
    assert not np.array_equal(other.noisy, _apply("permute-block", 0.5).noisy)
    with pytest.raises(NoiseGenerationError, match="rng='official' is defined for block='first' only"):
        _apply("permute-block", 0.5, block="random")
    with pytest.raises(
        NoiseGenerationError, match=r"rng='numpy' is not allowed; use 'project' or 'official'"
    ):
        NOISES.get("pairflip").apply(CLEAN, 0.2, np.random.default_rng(0), CTX10, {"rng": "numpy"})


def _coteaching_by_hand(clean: np.ndarray, t: np.ndarray) -> np.ndarray:
    flipper = np.random.RandomState(0)
    out = clean.copy()
    for i in range(len(clean)):
        out[i] = np.where(flipper.multinomial(1, t[clean[i], :], 1)[0] == 1)[0][0]
    return out


def test_coteaching_pairflip_and_symmetric_official() -> None:
    clean = CLEAN % 4
    ctx = NoiseContext("classification", 4, seed=123)
    r = 0.3
    pair = np.array(
        [[1.0 - r, r, 0, 0], [0, 1.0 - r, r, 0], [0, 0, 1.0 - r, r], [r, 0, 0, 1.0 - r]], dtype=np.float64
    )
    sym = np.full((4, 4), r / 3)
    np.fill_diagonal(sym, 1.0 - r)
    for name, t in (("pairflip", pair), ("sym-excl", sym)):
        result = _apply(name, r, ctx, clean)
        np.testing.assert_array_equal(result.noisy, _coteaching_by_hand(clean, t), err_msg=name)
        assert 0 < result.mask.sum() < len(clean)
        # one RandomState(0) for every run: the run seed plays no part
        again = _apply(name, r, NoiseContext("classification", 4, seed=5), clean)
        np.testing.assert_array_equal(again.noisy, result.noisy)
    np.testing.assert_array_equal(_apply("pairflip", 0.0, ctx, clean).noisy, clean)  # rate 0: no draw


def test_official_rng_through_prepare_uses_the_run_seed() -> None:
    """Wired through prepare: the whole digits training pool in native order, block = its first m."""
    a = prepare("digits", "permute-block", 0.4, 3, noise_params={"rng": "official"})
    b = prepare("digits", "permute-block", 0.4, 3, noise_params={"rng": "official"})
    c = prepare("digits", "permute-block", 0.4, 4, noise_params={"rng": "official"})
    project = prepare("digits", "permute-block", 0.4, 3)
    assert a.noisy_labels_sha256 == b.noisy_labels_sha256 != c.noisy_labels_sha256
    assert a.noisy_labels_sha256 != project.noisy_labels_sha256
