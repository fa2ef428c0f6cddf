"""SuperLoss: the torch Lambert W against scipy, the loss and its gradient, the τ modes, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from _method_harness import N_CLASSES, build, make_ctx, tiny_data, tiny_models

from baselines._functional import lambertw0, superloss_sigma
from benchmark.errors import HyperparameterError

INV_E = math.exp(-1.0)


def _grid() -> np.ndarray:
    """Dense grid of x = ½·(ℓ−τ)/λ: at and near −1/e (i.e. (ℓ−τ)/λ near −2/e), moderate and huge."""
    near = -INV_E + np.logspace(-12, -0.5, 400)
    moderate = np.linspace(-INV_E + 1e-12, 10.0, 20001)
    huge = np.logspace(-300, 300, 1201)
    tiny_negative = -np.logspace(-300, math.log10(INV_E) - 1e-9, 601)
    return np.concatenate([near, moderate, huge, tiny_negative, [0.0]])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def test_lambertw0_float64_matches_scipy_to_1e_10() -> None:
    x = _grid()
    ours = lambertw0(torch.tensor(x, dtype=torch.float64)).numpy()
    assert _rel(ours, scipy.special.lambertw(x).real) < 1e-10


def test_lambertw0_above_3_is_within_a_few_ulps_of_scipy_up_to_the_largest_doubles() -> None:
    """Above 3: Winitzki's start up to 100, the asymptotic start beyond, the same two Halley steps."""
    x = np.concatenate([np.linspace(3.0, 50.0, 4001), np.logspace(0.5, 300, 3001)])
    ours = lambertw0(torch.tensor(x, dtype=torch.float64)).numpy()
    assert _rel(ours, scipy.special.lambertw(x).real) < 5e-16
    extreme = np.array([1e305, 1e307, 1e308, 1.7e308])
    ours = lambertw0(torch.tensor(extreme, dtype=torch.float64)).numpy()
    assert _rel(ours, scipy.special.lambertw(extreme).real) < 5e-16


def test_lambertw0_near_the_branch_point_matches_40_digit_mpmath() -> None:
    """Near its square-root singularity scipy's own error grows (1.5e-13 on this grid, 1.3e-9 closer
    in), so the oracle is mpmath at 40 digits (torch's own dependency, through sympy), on the float64 x
    exactly: p = √(2(e·x+1)) from 10^-3.2 (the series alone) over the series start's range, into
    Winitzki's. The former log1p start with three steps was 9.6e-14 off here."""
    import mpmath

    p = np.logspace(-3.2, 0.0, 600)
    x = np.concatenate([-INV_E + p**2 / (2.0 * math.e), np.linspace(-0.26, -0.24, 201)])
    with mpmath.workdps(40):  # not mpmath.mp.dps = 40: that would stay set for every later test
        exact = np.array([float(mpmath.lambertw(mpmath.mpf(float(v))).real) for v in x])
    assert _rel(lambertw0(torch.tensor(x, dtype=torch.float64)).numpy(), exact) < 5e-14


def test_lambertw0_is_finite_and_minus_one_at_and_next_to_the_branch_point() -> None:
    """There w + 1 = 0 makes Halley's step 0/0; the series is used, so no NaN or inf comes out. (One
    ulp above −1/e, W is already −1 + 1.5e-8: the square-root singularity.)"""
    x = torch.tensor([-INV_E, math.nextafter(-INV_E, 0.0), -INV_E + 1e-17, -1.0], dtype=torch.float64)
    w = lambertw0(x)
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w, torch.full_like(w, -1.0), rtol=0, atol=2e-8)


def test_sigma_star_float64_and_float32_match_scipy() -> None:
    centred = 2.0 * _grid()  # σ* = exp(−W(½·(ℓ−τ)/λ)) with λ = 1
    centred = centred[centred < 1e4]  # exp(−W) underflows float32 further out
    reference = np.exp(-scipy.special.lambertw(0.5 * centred).real)
    sigma64 = superloss_sigma(torch.tensor(centred, dtype=torch.float64), lam=1.0).numpy()
    assert _rel(sigma64, reference) < 1e-10
    as32 = torch.tensor(centred, dtype=torch.float32)
    reference32 = np.exp(-scipy.special.lambertw(0.5 * as32.double().numpy()).real)
    sigma32 = superloss_sigma(as32, lam=1.0)
    assert sigma32.dtype == torch.float32
    assert _rel(sigma32.double().numpy(), reference32) < 1e-5


def test_sigma_star_is_clipped_at_minus_two_over_e() -> None:
    """Below −2/e the input is clipped: W = −1 exactly, σ* = e (the largest weight)."""
    centred = torch.tensor([-2.0 * INV_E, -1.0, -50.0], dtype=torch.float64)
    for lam in (0.25, 1.0):
        sigma = superloss_sigma(centred * lam, lam=lam)
        torch.testing.assert_close(sigma, torch.full_like(sigma, math.e), rtol=1e-15, atol=0)


def test_loss_value_and_gradient(float64_default: None) -> None:
    """L_i = (ℓ−τ)σ* + λ(ln σ*)² with τ = ln C, and ∂L_i/∂logits = σ*·∂ℓ_i/∂logits."""
    data = tiny_data()
    (model,) = tiny_models(1, N_CLASSES)
    method = build("superloss", make_ctx(), lam=0.5)
    logits = model(data.x).detach().requires_grad_(True)
    idx = torch.arange(len(data.y))
    step = method.loss([logits], data.y, idx, 0)

    ell = F.cross_entropy(logits.detach(), data.y, reduction="none").numpy()
    tau = math.log(N_CLASSES)
    y = (ell - tau) / 0.5
    assert (y < -2 * INV_E).any() and (y > 0).any()  # the batch covers the clipped and the positive side
    # W(−1/e) = −1 exactly; scipy returns NaN there because float(−1/e) lies just below the branch point.
    w = np.where(y <= -2 * INV_E, -1.0, scipy.special.lambertw(0.5 * np.maximum(-2 * INV_E, y)).real)
    sigma = np.exp(-w)
    expected = (ell - tau) * sigma + 0.5 * w**2
    np.testing.assert_allclose(step.per_sample[0].detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(method.sample_weights()[idx].numpy(), sigma, rtol=1e-12)

    step.per_sample[0].sum().backward()
    probs = torch.softmax(logits.detach(), dim=1)
    d_ell = probs - F.one_hot(data.y, N_CLASSES)
    torch.testing.assert_close(logits.grad, d_ell * torch.tensor(sigma).unsqueeze(1), rtol=1e-12, atol=1e-14)


def _batch_means(tau_mode: str) -> tuple[list[float], list[torch.Tensor]]:
    data = tiny_data()
    (model,) = tiny_models(1, N_CLASSES)
    method = build("superloss", make_ctx(), tau_mode=tau_mode)
    taus, losses = [], []
    for idx in data.batches(0):
        with torch.no_grad():
            step = method.loss([model(data.x[idx])], data.y[idx], idx, 0)
        losses.append(step.task_loss[0])
        taus.append(float(method.tau))
    return taus, losses


def test_tau_ema_starts_from_first_batch_mean_and_updates_before_use(float64_default: None) -> None:
    taus, losses = _batch_means("ema")
    expected = float(losses[0].mean())
    assert taus[0] == pytest.approx(expected, rel=1e-14)
    for tau, batch in zip(taus[1:], losses[1:], strict=True):
        expected = 0.9 * expected + 0.1 * float(batch.mean())
        assert tau == pytest.approx(expected, rel=1e-14)


def test_tau_global_average_is_the_mean_of_all_losses_seen(float64_default: None) -> None:
    taus, losses = _batch_means("global-average")
    for n, tau in enumerate(taus, start=1):
        assert tau == pytest.approx(float(torch.cat(losses[:n]).mean()), rel=1e-14)


def test_fixed_tau_defaults_to_log_c_and_regression_needs_a_value() -> None:
    assert build("superloss", make_ctx()).fixed_tau == pytest.approx(math.log(N_CLASSES))
    with pytest.raises(HyperparameterError, match=r"superloss\.tau=None: regression needs an explicit tau"):
        build("superloss", make_ctx("regression"))
    build("superloss", make_ctx("regression"), tau_mode="ema")


@pytest.mark.parametrize("lam", [0.0, -1.0])
def test_non_positive_lambda_is_refused(lam: float) -> None:
    with pytest.raises(HyperparameterError, match=rf"superloss\.lam={lam!r}: Input should be greater than 0"):
        build("superloss", make_ctx(), lam=lam)


def test_unknown_tau_mode_is_refused() -> None:
    with pytest.raises(
        HyperparameterError, match=r"superloss\.tau_mode='median'.*'fixed', 'ema' or 'global-average'"
    ):
        build("superloss", make_ctx(), tau_mode="median")


@pytest.mark.parametrize(
    ("regression_loss", "unit", "tau"), [("mse", 90.0**2, 400.0), ("smooth_l1", 90.0, 20.0)]
)
def test_lam_units_target_scales_lambda_to_the_task_loss(
    float64_default: None, regression_loss: str, unit: float, tau: float
) -> None:
    """``lam_units: target`` on regression is λ·s² (MSE) or λ·s (smooth-L1), checked against scipy's W."""
    ctx = make_ctx("regression", target_scale=90.0, regression_loss=regression_loss)
    method = build("superloss", ctx, tau_mode="fixed", tau=tau, lam=0.5, lam_units="target")
    preds = torch.tensor([[10.0], [60.0], [95.0], [180.0]])
    targets = torch.tensor([12.0, 30.0, 90.0, 20.0])
    step = method.loss([preds], targets, torch.arange(4), 0)

    err = preds[:, 0].numpy() - targets.numpy()
    ell = err**2 if regression_loss == "mse" else np.where(np.abs(err) < 1, 0.5 * err**2, np.abs(err) - 0.5)
    lam = 0.5 * unit
    y = (ell - tau) / lam
    w = np.where(y <= -2 * INV_E, -1.0, scipy.special.lambertw(0.5 * np.maximum(-2 * INV_E, y)).real)
    sigma = np.exp(-w)
    np.testing.assert_allclose(method.sample_weights()[:4].numpy(), sigma, rtol=1e-12)
    np.testing.assert_allclose(
        step.per_sample[0].detach().numpy(), (ell - tau) * sigma + lam * w**2, rtol=1e-12
    )
    assert 0.1 < sigma.min() < sigma.max() < math.e  # graded weights, not all-or-nothing


def test_lam_units_target_changes_nothing_on_classification(float64_default: None) -> None:
    data = tiny_data()
    (model,) = tiny_models(1, N_CLASSES)
    logits = model(data.x).detach()
    idx = torch.arange(len(data.y))
    as_given = build("superloss", make_ctx(target_scale=90.0), lam=0.5).loss([logits], data.y, idx, 0)
    scaled = build("superloss", make_ctx(target_scale=90.0), lam=0.5, lam_units="target").loss(
        [logits], data.y, idx, 0
    )
    torch.testing.assert_close(scaled.per_sample, as_given.per_sample, rtol=0, atol=0)


def test_unknown_lam_units_is_refused() -> None:
    with pytest.raises(HyperparameterError, match=r"superloss\.lam_units='targets'"):
        build("superloss", make_ctx(), lam_units="targets")
