"""Noise generators: rates within binomial tolerance, transition structure, determinism, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from benchmark.data import NoiseContext, NoiseGenerator, labels_sha256
from benchmark.data.noise.asymmetric import CIFAR10_FLIPS, CIFAR100_COARSE, cifar100_next_in_superclass
from benchmark.data.noise.idn import flip_rate_distribution
from benchmark.errors import NoiseGenerationError
from benchmark.registry import NOISES

N = 5000
RATE = 0.3


@pytest.fixture(scope="module")
def pool() -> dict[str, np.ndarray]:
    """Fixed inputs: uniform labels for C=10 and C=100, features, regression targets."""
    rng = np.random.default_rng(123)
    return {
        "y10": rng.integers(0, 10, N),
        "x": rng.standard_normal((N, 16)).astype(np.float32),
        "y100": rng.integers(0, 100, N),
        "yreg": rng.normal(30, 10, N).astype(np.float32),
    }


def _run(name: str, pool: dict[str, np.ndarray], rate: float = RATE, seed: int = 7, **params: object):
    gen: NoiseGenerator = NOISES.get(name)
    if gen.tasks == ("regression",):
        clean, ctx = pool["yreg"], NoiseContext("regression", None)
    elif name == "asym-cifar100":
        clean, ctx = pool["y100"], NoiseContext("classification", 100)
    else:
        y = pool["y10"]
        clean, ctx = y, NoiseContext("classification", 10, x=pool["x"], shipped=(y + 1) % 10)
    return clean, gen.apply(clean, rate, np.random.default_rng(seed), ctx, params)


# Golden sha256 of the noisy labels for the fixture above, rate 0.3, seed 7 (numpy PCG64 streams).
GOLDEN = {
    "asym-cifar10": "3b3a67baa155e803d89196819153f2d09e3730e8c341e4ab52a14165a65b08f3",
    "asym-cifar100": "c3a787dea94781bfbf8d987f0101f297cb6318b8e226ba7920601ce9a4e2cb9e",
    "gaussian": "28289e920e2384921b475175cccb3c64651a5f2ea57dcad5899027650ee7d0c2",
    "idn": "86e30ce69f0ec74df4c1aea2507c656eb7c746526d559dd45ed8ec04e638b20f",
    "pairflip": "e4a1b663dad5b2c4da6fe3b21c271105a86f4223f846371e309f1d5329abb271",
    "permute-block": "a74873bf39e51cb7aab6c3898d2bec542127cdcb5bf2fb423754edfebe5e2508",
    "real": "928f0432d2a3006d55ae5f91e0fa0881f2144ac3dbad1511601f4b008821e17f",
    "sym-excl": "3fde75b94cdb619ae6838366ecfba66e9cc238978ca7199e35d3d0b86214e96a",
    "sym-incl": "759b0255cb42a70fef80923238cfeee939e0f21fb2302a968652dd2bc609d912",
}
SEEDED = sorted(set(GOLDEN) - {"real"})


def test_every_registered_noise_has_a_golden_hash() -> None:
    assert sorted(GOLDEN) == NOISES.names()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_hash(name: str, pool: dict[str, np.ndarray]) -> None:
    _, res = _run(name, pool)
    assert labels_sha256(res.noisy) == GOLDEN[name]


@pytest.mark.parametrize("name", SEEDED)
def test_same_seed_same_labels_other_seed_differs(name: str, pool: dict[str, np.ndarray]) -> None:
    _, a = _run(name, pool, seed=1)
    _, b = _run(name, pool, seed=1)
    _, c = _run(name, pool, seed=2)
    np.testing.assert_array_equal(a.noisy, b.noisy)
    assert not np.array_equal(a.noisy, c.noisy)


@pytest.mark.parametrize("name", SEEDED)
def test_rate_zero_is_identity(name: str, pool: dict[str, np.ndarray]) -> None:
    clean, res = _run(name, pool, rate=0.0)
    np.testing.assert_array_equal(res.noisy, clean)
    assert res.realised_rate == 0.0 and not res.mask.any()
    assert res.noisy.dtype == clean.dtype


def _expected_rate(name: str, pool: dict[str, np.ndarray]) -> float:
    y10 = pool["y10"]
    share = {
        "sym-excl": RATE,
        "pairflip": RATE,
        "asym-cifar100": RATE,
        "gaussian": RATE,
        "sym-incl": RATE * (1 - 1 / 10),
        "asym-cifar10": RATE * np.isin(y10, list(CIFAR10_FLIPS)).mean(),
        "idn": float(flip_rate_distribution(RATE, 0.1, 1.0).mean()),
    }
    return float(share[name])


@pytest.mark.parametrize(
    "name", ["sym-excl", "sym-incl", "pairflip", "asym-cifar10", "asym-cifar100", "idn", "gaussian"]
)
def test_realised_rate_within_binomial_tolerance(name: str, pool: dict[str, np.ndarray]) -> None:
    _, res = _run(name, pool)
    p = _expected_rate(name, pool)
    se = math.sqrt(p * (1 - p) / N)
    assert abs(res.realised_rate - p) < 4 * se, (res.realised_rate, p)
    assert res.realised_rate == pytest.approx(res.mask.mean())


def test_sym_excl_never_keeps_true_class_sym_incl_sometimes_does(pool: dict[str, np.ndarray]) -> None:
    # Oracle: both draw the per-sample Bernoulli first from the same stream.
    flipped = int((np.random.default_rng(7).random(N) < RATE).sum())
    _, excl = _run("sym-excl", pool)
    _, incl = _run("sym-incl", pool)
    assert int(excl.mask.sum()) == flipped
    assert int(incl.mask.sum()) < flipped


def test_sym_excl_transition_structure(pool: dict[str, np.ndarray]) -> None:
    _, res = _run("sym-excl", pool)
    t = res.transition
    assert t is not None and t.shape == (10, 10)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    off = t[~np.eye(10, dtype=bool)]
    assert np.all(np.abs(np.diag(t) - (1 - RATE)) < 0.08)
    assert np.all(np.abs(off - RATE / 9) < 0.03)


def test_pairflip_transition_structure(pool: dict[str, np.ndarray]) -> None:
    _, res = _run("pairflip", pool)
    t = res.transition
    assert t is not None
    nxt = (np.arange(10) + 1) % 10
    assert np.all(np.abs(np.diag(t) - (1 - RATE)) < 0.08)
    assert np.all(np.abs(t[np.arange(10), nxt] - RATE) < 0.08)
    rest = t.copy()
    rest[np.arange(10), np.arange(10)] = 0
    rest[np.arange(10), nxt] = 0
    assert np.all(rest == 0)


def test_asym_cifar10_only_semantic_flips(pool: dict[str, np.ndarray]) -> None:
    _, res = _run("asym-cifar10", pool)
    t = res.transition
    assert t is not None
    allowed = np.eye(10, dtype=bool)
    for src, dst in CIFAR10_FLIPS.items():
        allowed[src, dst] = True
        assert abs(t[src, dst] - RATE) < 0.08
    assert np.all(t[~allowed] == 0)
    for unchanged in (0, 1, 6, 7, 8):  # airplane, automobile, frog, horse, ship never flip
        assert t[unchanged, unchanged] == 1.0
    assert CIFAR10_FLIPS == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


def test_cifar100_superclass_map_and_flips(pool: dict[str, np.ndarray]) -> None:
    coarse = np.asarray(CIFAR100_COARSE)
    assert np.bincount(coarse).tolist() == [5] * 20
    # Spot checks against the CIFAR-100 meta file: apple→fruit_and_vegetables(4), aquarium_fish→fish(1),
    # baby→people(14), bear→large_carnivores(8), beaver→aquatic_mammals(0), worm→non-insect_invertebrates(13).
    assert coarse[[0, 1, 2, 3, 4, 99]].tolist() == [4, 1, 14, 8, 0, 13]
    nxt = cifar100_next_in_superclass()
    assert np.all(coarse[nxt] == coarse) and np.all(nxt != np.arange(100))
    clean, res = _run("asym-cifar100", pool)
    assert np.all(coarse[res.noisy] == coarse[clean])
    assert np.all(res.noisy[res.mask] == nxt[clean[res.mask]])


def test_permute_block_classification_first_block(pool: dict[str, np.ndarray]) -> None:
    clean, res = _run("permute-block", pool)
    n_c = math.floor(N * RATE)
    assert not res.mask[n_c:].any()
    np.testing.assert_array_equal(np.sort(res.noisy[:n_c]), np.sort(clean[:n_c]))
    # A permutation keeps ≈ 1/C of the block right: realised ≈ r(1 − Σ p_c²) (spec b.1).
    p = np.bincount(clean[:n_c], minlength=10) / n_c
    expected = RATE * (1 - (p**2).sum())
    assert abs(res.realised_rate - expected) < 4 * math.sqrt(expected * (1 - expected) / N)


def test_permute_block_regression_random_block(pool: dict[str, np.ndarray]) -> None:
    clean, res = _run("permute-block", pool, block="random")
    changed = np.flatnonzero(res.mask)
    assert changed.max() > N * RATE  # not confined to the first block
    assert res.mask.sum() <= math.floor(N * RATE)
    np.testing.assert_array_equal(np.sort(res.noisy), np.sort(clean))  # a permutation of the targets
    gen = NOISES.get("permute-block")
    yreg = pool["yreg"]
    reg = gen.apply(
        yreg, RATE, np.random.default_rng(3), NoiseContext("regression", None), {"block": "first"}
    )
    assert reg.transition is None and reg.noisy.dtype == np.float32
    n_c = math.floor(N * RATE)
    np.testing.assert_array_equal(reg.noisy[n_c:], yreg[n_c:])
    np.testing.assert_array_equal(np.sort(reg.noisy[:n_c]), np.sort(yreg[:n_c]))


def test_gaussian_noise_scale(pool: dict[str, np.ndarray]) -> None:
    clean, res = _run("gaussian", pool, std=5.0)
    delta = (res.noisy - clean)[res.mask].astype(np.float64)
    # The sample std of ~1,500 N(0, 5²) draws: chi-square 99.99 % interval.
    n = delta.size
    lo, hi = stats.chi2.ppf([5e-5, 1 - 5e-5], n - 1)
    assert lo < (n - 1) * delta.var(ddof=1) / 25.0 < hi
    assert res.transition is None


def test_real_uses_shipped_labels(pool: dict[str, np.ndarray]) -> None:
    clean, res = _run("real", pool)
    np.testing.assert_array_equal(res.noisy, (clean + 1) % 10)
    assert res.realised_rate == 1.0
    with pytest.raises(NoiseGenerationError, match=r"ships|shipped"):
        NOISES.get("real").apply(clean, 0.0, np.random.default_rng(0), NoiseContext("classification", 10))


def test_idn_rate_and_instance_dependence(pool: dict[str, np.ndarray]) -> None:
    _, res = _run("idn", pool, rate=0.5)
    expected = float(flip_rate_distribution(0.5, 0.1, 1.0).mean())
    assert abs(res.realised_rate - expected) < 4 * math.sqrt(expected * (1 - expected) / N)
    # Identical inputs of one class share one flip distribution, peaked on argmax x·W[y]: far from the
    # uniform spread sym-excl gives. Different inputs spread over the classes.
    gen = NOISES.get("idn")
    same = np.tile(3.0 * pool["x"][:1], (2000, 1))
    y0 = np.zeros(2000, dtype=np.int64)
    one = gen.apply(y0, 0.5, np.random.default_rng(0), NoiseContext("classification", 10, x=same))
    top_share = np.bincount(one.noisy[one.mask], minlength=10).max() / one.mask.sum()
    many = gen.apply(
        y0, 0.5, np.random.default_rng(0), NoiseContext("classification", 10, x=pool["x"][:2000])
    )
    many_share = np.bincount(many.noisy[many.mask], minlength=10).max() / many.mask.sum()
    assert top_share > 0.6 and many_share < 0.4, (top_share, many_share)


@pytest.mark.parametrize(
    ("name", "rate", "classes", "allowed"),
    [
        ("sym-excl", 0.95, 10, "rate <= 0.9"),
        ("pairflip", 0.5, 10, "rate < 0.5"),
        ("sym-incl", 1.0, 10, "rate < 1"),
        ("sym-incl", -0.1, 10, "rate < 1"),
        ("asym-cifar10", 0.6, 10, "rate < 0.5"),
        ("sym-excl", float("nan"), 10, "rate <= 0.9"),
    ],
)
def test_impossible_rates_refused(name: str, rate: float, classes: int, allowed: str) -> None:
    gen = NOISES.get(name)
    with pytest.raises(NoiseGenerationError) as info:
        gen.check("classification", rate, classes)
    message = str(info.value)
    assert "\n" not in message and repr(name) in message and repr(rate) in message and allowed in message


def test_task_and_class_mismatch_refused() -> None:
    with pytest.raises(NoiseGenerationError, match="'sym-excl' applies to classification tasks only"):
        NOISES.get("sym-excl").check("regression", 0.2, None, "digitsum")
    with pytest.raises(NoiseGenerationError, match="'gaussian' applies to regression"):
        NOISES.get("gaussian").check("classification", 0.2, 10)
    with pytest.raises(NoiseGenerationError, match="needs 10 classes, got num_classes=100"):
        NOISES.get("asym-cifar10").check("classification", 0.2, 100)


def test_unknown_or_bad_params_refused(pool: dict[str, np.ndarray]) -> None:
    with pytest.raises(NoiseGenerationError, match=r"no parameter 'sigma'.*allowed: std"):
        _run("gaussian", pool, sigma=1.0)
    with pytest.raises(NoiseGenerationError, match="block='middle'"):
        _run("permute-block", pool, block="middle")
    with pytest.raises(NoiseGenerationError, match="norm_std"):
        _run("idn", pool, norm_std=0.0)
