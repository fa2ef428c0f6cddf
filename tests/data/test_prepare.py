"""prepare(): noise on the pool, stratified validation, determinism, test split untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.data import NoiseContext, get_adapter, load_raw, prepare, stratified_holdout
from benchmark.errors import (
    HyperparameterError,
    NoiseGenerationError,
    StudyConfigError,
    UnknownComponentError,
)
from benchmark.registry import NOISES
from benchmark.seeding import seed_streams

SMALL_SYNTH = {"n_train": 600, "n_test": 100, "n_classes": 3}


def test_validation_is_stratified_disjoint_and_complete() -> None:
    p = prepare("digits", "sym-excl", 0.4, seed=3)
    train_idx, val_idx = p.extra["train_index"], p.extra["val_index"]
    pool = load_raw(get_adapter("digits")).train
    assert np.intersect1d(train_idx, val_idx).size == 0
    assert np.array_equal(np.sort(np.concatenate([train_idx, val_idx])), np.arange(len(pool)))
    assert len(val_idx) == round(0.1 * len(pool))
    counts = np.bincount(pool.y.numpy(), minlength=10)
    val_counts = np.bincount(p.val_clean_y.numpy(), minlength=10)
    assert np.all(np.abs(val_counts - counts * 0.1) <= 1)  # stratified on the clean labels
    assert torch.equal(p.train.x, pool.x[torch.from_numpy(train_idx)])


def test_validation_has_the_same_noise_as_training() -> None:
    p = prepare("digits", "sym-excl", 0.4, seed=3)
    pool = load_raw(get_adapter("digits")).train
    # Oracle: the generator applied to the whole pool with the run's noise stream.
    res = NOISES.get("sym-excl").apply(
        pool.y.numpy(), 0.4, seed_streams(3).numpy("noise"), NoiseContext("classification", 10)
    )
    np.testing.assert_array_equal(p.train.y.numpy(), res.noisy[p.extra["train_index"]])
    np.testing.assert_array_equal(p.val.y.numpy(), res.noisy[p.extra["val_index"]])
    assert p.val_mask.float().mean().item() > 0.25  # the validation split is noisy too
    assert p.realised_rate == pytest.approx(res.realised_rate)
    assert torch.equal(p.train_mask, p.train.y != p.train_clean_y)


def test_realisation_depends_only_on_dataset_noise_rate_seed_params() -> None:
    a = prepare("synthetic-hard", "pairflip", 0.3, seed=5, dataset_kwargs=SMALL_SYNTH)
    b = prepare("synthetic-hard", "pairflip", 0.3, seed=5, dataset_kwargs=SMALL_SYNTH, val_fraction=0.25)
    c = prepare("synthetic-hard", "pairflip", 0.3, seed=6, dataset_kwargs=SMALL_SYNTH)
    d = prepare("synthetic-hard", "pairflip", 0.3, seed=5, dataset_kwargs=SMALL_SYNTH)
    assert a.noisy_labels_sha256 == b.noisy_labels_sha256 == d.noisy_labels_sha256
    assert a.noisy_labels_sha256 != c.noisy_labels_sha256
    assert torch.equal(a.train.y, d.train.y) and torch.equal(a.val.y, d.val.y)
    assert np.array_equal(a.transition, d.transition)
    assert a.noisy_labels_sha256 == "4b497d63d81143425b9a7e8a50a244a501fb1ba8c0bf65a53a21baa69bd41525"


def test_test_split_is_never_noised() -> None:
    raw = load_raw(get_adapter("digits"))
    for noise in ("sym-excl", "pairflip", "permute-block"):
        p = prepare("digits", noise, 0.45, seed=1)
        assert torch.equal(p.test.y, raw.test.y) and torch.equal(p.test.x, raw.test.x)
    golden = prepare("digits", "permute-block", 0.4, seed=1).noisy_labels_sha256
    assert golden == "016817150cd3164f3949d892abf98d2e20007fcc361749951d5a9805c55e237b"


def test_prepared_fields() -> None:
    p = prepare("digits", "sym-incl", 0.2, seed=0)
    assert p.task == "classification" and p.num_classes == 10 and p.input_shape == (1, 8, 8)
    assert p.recipe.model == "mlp" and p.noise_name == "sym-incl" and p.noise_rate == 0.2
    assert p.train.x.device.type == "cpu" and p.train.y.dtype == torch.int64
    assert p.transition is not None and np.allclose(p.transition.sum(axis=1), 1.0)
    assert float(p.train.x.min()) >= 0.0 and float(p.train.x.max()) <= 1.0
    assert len(p.noisy_labels_sha256) == 64


def test_rate_zero_gives_clean_labels() -> None:
    p = prepare("digits", "sym-excl", 0.0, seed=9)
    assert torch.equal(p.train.y, p.train_clean_y) and p.realised_rate == 0.0
    np.testing.assert_array_equal(p.transition, np.eye(10))


def test_cache_returns_the_same_object() -> None:
    a = load_raw(get_adapter("synthetic-hard", **SMALL_SYNTH))
    b = load_raw(get_adapter("synthetic-hard", **SMALL_SYNTH))
    c = load_raw(get_adapter("synthetic-hard", **{**SMALL_SYNTH, "seed": 1}))
    assert a is b and a is not c


def test_errors_are_one_line_and_name_the_value() -> None:
    with pytest.raises(NoiseGenerationError, match=r"'sym-excl'.*rate=0\.95.*dataset 'digits'.*rate <= 0\.9"):
        prepare("digits", "sym-excl", 0.95, seed=0)
    with pytest.raises(NoiseGenerationError, match="classification tasks only, got a regression task"):
        prepare("digitsum", "sym-excl", 0.2, seed=0)
    with pytest.raises(HyperparameterError, match=r"val_fraction.*got 1\.5"):
        prepare("digits", "sym-excl", 0.2, seed=0, val_fraction=1.5)
    with pytest.raises(HyperparameterError, match=r"no option 'n_samples'.*allowed: .*n_train"):
        prepare("synthetic-hard", "sym-excl", 0.2, seed=0, dataset_kwargs={"n_samples": 5})
    with pytest.raises(StudyConfigError, match="recipe_kind='paper' is not available for dataset 'digits'"):
        prepare("digits", "sym-excl", 0.2, seed=0, recipe_kind="paper")
    with pytest.raises(HyperparameterError, match="seed must be a non-negative integer, got seed=-1"):
        prepare("digits", "sym-excl", 0.2, seed=-1)
    with pytest.raises(UnknownComponentError, match="Did you mean 'digits'"):
        prepare("digit", "sym-excl", 0.2, seed=0)
    with pytest.raises(UnknownComponentError, match="Did you mean 'sym-excl'"):
        prepare("digits", "sym-exl", 0.2, seed=0)


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 5), min_size=2, max_size=300),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32),
    stratify=st.booleans(),
)
def test_holdout_properties(labels: list[int], fraction: float, seed: int, stratify: bool) -> None:
    y = np.asarray(labels)
    train, val = stratified_holdout(y, fraction, np.random.default_rng(seed), stratify)
    n = y.size
    assert val.size == min(max(round(n * fraction), 1), n - 1)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    if stratify:  # each class gets its share, up to rounding
        share = val.size / n
        for k in np.unique(y):
            assert abs(np.sum(y[val] == k) - share * np.sum(y == k)) < 1.0 + 1e-9
