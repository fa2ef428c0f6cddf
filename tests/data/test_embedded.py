"""Embedded datasets: digits, mnist1d, digitsum, synthetic-hard."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from benchmark.data import get_adapter, load_raw, prepare
from benchmark.data.digitsum import PAD
from benchmark.data.synthetic_hard import bayes_hardness
from benchmark.errors import HyperparameterError


def test_digits_matches_sklearn() -> None:
    raw = load_raw(get_adapter("digits"))
    assert len(raw.train) + len(raw.test) == 1797 and len(raw.test) == 359
    assert raw.train.x.shape[1:] == (1, 8, 8) and raw.train.x.dtype == torch.float32
    ref = load_digits()
    # The multiset of (image, label) pairs is sklearn's, scaled by 1/16.
    all_x = torch.cat([raw.train.x, raw.test.x]).reshape(-1, 64).numpy() * 16
    all_y = torch.cat([raw.train.y, raw.test.y]).numpy()
    assert np.array_equal(np.sort(all_y), np.sort(ref.target))
    assert np.allclose(np.sort(all_x.sum(axis=1)), np.sort(ref.data.sum(axis=1)))


def test_mnist1d_sizes_and_global_rng_untouched() -> None:
    np.random.seed(11)
    random.seed(11)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    raw = load_raw(get_adapter("mnist1d", num_samples=300))
    assert np.array_equal(np.random.get_state()[1], before_np) and random.getstate() == before_py
    assert raw.train.x.shape == (240, 1, 40) and raw.test.x.shape == (60, 1, 40)
    assert raw.train.x.dtype == torch.float32 and set(raw.train.y.tolist()) <= set(range(10))
    again = get_adapter("mnist1d", num_samples=300).load(root=None)  # type: ignore[arg-type]
    assert torch.equal(again.train.x, raw.train.x)


def test_digitsum_generation() -> None:
    raw = load_raw(get_adapter("digitsum", per_length=30, n_val=50, n_test=40))
    x, y = raw.train.x, raw.train.y
    assert x.dtype == torch.int64 and x.shape[1] == 20 and y.dtype == torch.float32
    lengths = (x != PAD).sum(dim=1)
    # Lengths 2..20, min(30, 10^L) strings each (10^1 < 30 does not arise as min_len=2), in length order.
    assert lengths.tolist() == sorted(lengths.tolist())
    assert torch.bincount(lengths).tolist()[2:] == [30] * 19
    assert torch.equal(y, torch.where(x == PAD, 0, x).sum(dim=1).float())
    assert raw.val is not None and len(raw.val) == 50 and len(raw.test) == 40
    assert bool((raw.test.x != PAD).all()) and bool((raw.val.x != PAD).all())  # length-20 strings
    rows = {tuple(r) for r in torch.cat([x, raw.val.x, raw.test.x]).tolist()}
    assert len(rows) == len(x) + 50 + 40  # unique across all splits
    tiny = load_raw(get_adapter("digitsum", per_length=400, max_len=4, n_val=5, n_test=5))
    assert torch.bincount((tiny.train.x != PAD).sum(dim=1)).tolist()[2:] == [100, 400, 400]
    with pytest.raises(HyperparameterError, match="needs 1010 unique strings of length max_len=3"):
        get_adapter("digitsum", per_length=1000, max_len=3, n_val=5, n_test=5)


def test_digitsum_uses_official_val_and_random_permute_block() -> None:
    kw = {"per_length": 30, "n_val": 50, "n_test": 40}
    p = prepare("digitsum", "permute-block", 0.4, seed=2, dataset_kwargs=kw)
    assert p.extra["official_val"] and len(p.val) == 50 and p.extra["noise_params"] == {"block": "random"}
    assert p.task == "regression" and p.num_classes is None and p.target_range == (0.0, 180.0)
    assert p.target_scale == 90.0  # what SuperLoss's lam_units: target reads
    changed = torch.nonzero(p.train_mask).flatten()
    assert changed.max() > 0.4 * len(p.train)  # random subset, not the first (shortest) strings
    assert torch.equal(torch.sort(p.train.y).values, torch.sort(p.train_clean_y).values)
    assert p.val_mask.any() and p.transition is None
    paper = prepare("digitsum", "gaussian", 0.2, seed=2, dataset_kwargs=kw, recipe_kind="paper").recipe
    assert (paper.model, paper.optimizer, paper.lr, paper.batch_size, paper.epochs) == (
        "lstm-digitsum",
        "adamw",
        0.1,
        512,
        100,
    )


def test_synthetic_hard_hardness() -> None:
    kw = {"n_train": 3000, "n_test": 200, "n_classes": 3, "dim": 2, "separation": 2.0}
    raw = load_raw(get_adapter("synthetic-hard", **kw))
    h = raw.train.hardness
    assert h is not None and h.shape == (3000,) and float(h.min()) >= 0 and float(h.max()) <= 1
    # Hand-computed: a point equidistant from two of two means is maximally hard; far away is easy.
    means = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert bayes_hardness(np.array([[0.0, 5.0], [10.0, 0.0]]), means) == pytest.approx([1.0, 0.0], abs=1e-6)
    # Hard samples are where the Bayes classifier errs: hardness is higher on misclassified points.
    p = prepare("synthetic-hard", "sym-excl", 0.2, seed=0, dataset_kwargs=kw)
    assert p.num_classes == 3 and p.train.hardness is not None
    assert torch.equal(p.train.hardness, h[torch.from_numpy(p.extra["train_index"])])


def test_bad_dataset_options() -> None:
    with pytest.raises(HyperparameterError, match="option num_samples=5 is not allowed"):
        get_adapter("mnist1d", num_samples=5)
    with pytest.raises(HyperparameterError, match=r"test_fraction=1\.2"):
        get_adapter("digits", test_fraction=1.2)
