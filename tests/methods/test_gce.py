"""GCE: the closed form, its limits (q → 0 is CE, q = 1 is MAE), truncation and pruning, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _method_harness import N_CLASSES, N_TRAIN, build, make_ctx, tiny_data, tiny_models, train

from benchmark.errors import HyperparameterError
from benchmark.registry import METHODS


def _logits_and_p_y() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    data = tiny_data()
    (model,) = tiny_models(1, N_CLASSES)
    logits = model(data.x).detach()
    z = logits.numpy()
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return logits, data.y, p[np.arange(N_TRAIN), data.y.numpy()]


def _gce(q: float, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    method = build("gce", make_ctx(), q=q)
    return method.loss([logits], y, torch.arange(N_TRAIN), 0).per_sample[0]


@pytest.mark.parametrize("q", [0.1, 0.5, 0.7, 1.0])
def test_closed_form(q: float) -> None:
    logits, y, p_y = _logits_and_p_y()
    np.testing.assert_allclose(_gce(q, logits, y).numpy(), (1 - p_y**q) / q, rtol=1e-12)


def test_q_to_zero_approaches_ce() -> None:
    logits, y, _ = _logits_and_p_y()
    ce = F.cross_entropy(logits, y, reduction="none")
    errors = [float((_gce(q, logits, y) - ce).abs().max()) for q in (1e-2, 1e-4, 1e-6)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-5


def test_q_one_is_mae() -> None:
    logits, y, p_y = _logits_and_p_y()
    np.testing.assert_allclose(_gce(1.0, logits, y).numpy(), 1 - p_y, rtol=1e-13)


@pytest.mark.parametrize(
    ("q", "message"), [(0.0, "greater than 0"), (-0.5, "greater than 0"), (1.5, "less than or equal to 1")]
)
def test_q_outside_zero_one_is_refused(q: float, message: str) -> None:
    with pytest.raises(HyperparameterError, match=rf"^gce\.q={q!r}: Input should be {message}"):
        build("gce", make_ctx(), q=q)


def test_regression_is_refused() -> None:
    with pytest.raises(HyperparameterError, match="does not support regression"):
        build("gce", make_ctx("regression"))


def _pruning_epochs(**params: object) -> list[int]:
    method = build("gce", make_ctx(), **params)
    return [e for e in range(80) if method.is_pruning_epoch(e)]


def test_pruning_schedule_official_and_paper() -> None:
    """AlanChou's train(epoch) prunes when (epoch+1) >= start_prune and (epoch+1) % 10 == 0: with
    start_prune 40 (CIFAR-10) before 0-based epochs 39, 49, ...; with 80 (CIFAR-100) before 79. The
    "paper" reading starts at 0-based epoch 40."""
    assert _pruning_epochs(truncated=True) == [39, 49, 59, 69, 79]  # the defaults are the reference's
    assert _pruning_epochs(truncated=True, prune_start=80) == [79]
    assert _pruning_epochs(truncated=True, prune_start=45) == [49, 59, 69, 79]
    assert _pruning_epochs(truncated=True, prune_schedule="paper") == [40, 50, 60, 70]
    assert _pruning_epochs(truncated=True, prune_schedule="paper", prune_start=45) == [45, 55, 65, 75]
    assert _pruning_epochs() == []
    for params in (
        {},
        {"prune_start": 45},
        {"prune_start": 0, "prune_every": 3},
        {"prune_schedule": "paper"},
    ):
        method = build("gce", make_ctx(), truncated=True, **params)
        first = next(e for e in range(200) if method.is_pruning_epoch(e))
        assert method.first_pruning_epoch() == first
        assert method.schedule_epochs() == {"first_pruning": float(first)}


def test_truncated_presets() -> None:
    presets = METHODS.get("gce").presets()
    official = build("gce", make_ctx(), **presets["truncated"])
    assert (official.p.prune_schedule, official.p.prune_inputs, official.p.prune_model) == (
        "official", "augmented", "best",
    )  # fmt: skip
    assert official.keeps_best_checkpoint
    earlier = build("gce", make_ctx(), **presets["truncated-current"])
    assert (earlier.p.prune_schedule, earlier.p.prune_inputs, earlier.p.prune_model) == (
        "paper", "plain", "current",
    )  # fmt: skip
    assert not earlier.keeps_best_checkpoint
    assert not build("gce", make_ctx()).keeps_best_checkpoint  # untruncated GCE never prunes


def test_truncated_weights_and_loss(float64_default: None) -> None:
    """Before pruning: plain L_q, all w = 1. At a pruning epoch: w_i = 1 iff L_q(p_y) < L_q(k), from the
    current model; then the loss is w_i·(L_q(p_y) − L_q(k))."""
    q, k = 0.7, 0.5
    data = tiny_data()
    models = tiny_models(1, N_CLASSES)
    method = build("gce", make_ctx(), truncated=True, prune_start=2, prune_every=1, prune_schedule="paper")
    train(method, models, data, epochs=[0, 1])
    assert torch.equal(method.sample_weights(), torch.ones(N_TRAIN))
    idx = torch.arange(N_TRAIN)
    with torch.no_grad():
        logits = models[0](data.x)
    np.testing.assert_allclose(
        method.loss([logits], data.y, idx, 1).per_sample[0].numpy(),
        _gce(q, logits, data.y).numpy(),
        rtol=1e-14,
    )

    method.on_epoch_start(2, lambda **_: ([models[0](data.x).detach()], data.y))
    p_y = torch.softmax(logits, 1)[idx, data.y].numpy()
    lq, lq_k = (1 - p_y**q) / q, (1 - k**q) / q
    expected_w = (lq < lq_k).astype(float)
    assert 0 < expected_w.sum() < N_TRAIN  # the tiny problem has samples on both sides of p_y = k
    np.testing.assert_array_equal(method.sample_weights().numpy(), expected_w)
    np.testing.assert_array_equal(expected_w, (p_y > k).astype(float))  # L_q is decreasing in p_y
    per_sample = method.loss([logits], data.y, idx, 2).per_sample[0].numpy()
    np.testing.assert_allclose(per_sample, expected_w * (lq - lq_k), rtol=1e-12, atol=1e-15)
