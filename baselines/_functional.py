"""Maths shared by the loss methods: the principal branch of Lambert W, small schedules.

Everything here is pure torch and runs on the tensors' device without a host round-trip (no ``.item()``,
no data-dependent loop counts), so a method can call it inside the training step.
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = [
    "INV_E",
    "as_dtype",
    "bias_correction",
    "gce_lq",
    "lambertw0",
    "scalar",
    "superloss_sigma",
]

INV_E = math.exp(-1.0)
"""1/e rounded to double: W₀ is defined on [−1/e, ∞)."""
_INV_E_LO = -1.2428753672788363e-17
"""1/e − INV_E, so that x + 1/e is formed to full precision near the branch point."""


def as_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` in ``dtype``, without a call when it already is (``Tensor.to`` costs 0.8 µs even then)."""
    return x if x.dtype == dtype else x.to(dtype)


def scalar(value: float, dtype: torch.dtype) -> torch.Tensor | float:
    """``value`` as the constant operand of arithmetic on float32 or float64 tensors of ``dtype``: a 0-dim
    CPU tensor of that dtype; for any other dtype the Python number itself.

    Why: torch wraps a Python number in a float64 tensor and converts it to the other operand's dtype in
    every operation (an ``_to_copy`` each time: ``x * 0.9`` takes 2.1 µs for a 128-float ``x`` on one CPU
    thread, ``x * scalar(0.9, x.dtype)`` 1.3 µs with this function's cache lookup). A CPU tensor of the
    operand's dtype takes the same CPU-scalar path as the wrapped number on every device (CUDA's division
    by a reciprocal included), so the result is the same bits. Half and bfloat16 kernels read a wrapped
    number at float precision, which a tensor of their own dtype would round away, so they get the number.
    One cached tensor per (value, sign, dtype): −0.0 and 0.0 compare equal but multiply differently.
    Never modify the returned tensor.
    """
    if dtype not in (torch.float32, torch.float64):
        return value
    return _scalar(value, math.copysign(1.0, value), dtype)


@functools.lru_cache(maxsize=1024)
def _scalar(value: float, sign: float, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(value, dtype=dtype)


def gce_lq(log_p_y: torch.Tensor, q: float) -> torch.Tensor:
    """Generalised CE L_q = (1 − p_y^q)/q from log p_y (Zhang & Sabuncu 2018, eq. 6).

    Written as −expm1(q·log p_y)/q so that small q stays accurate (q → 0 gives −log p_y, the CE).
    """
    return -torch.expm1(q * log_p_y) / q


def bias_correction(beta: float, epoch: int) -> float:
    """Adam-style bias correction 1 − β^(e+1) for a 0-based epoch counter (spec a.2 step 2)."""
    return 1.0 - beta ** (epoch + 1)


# ---- Lambert W, principal branch -----------------------------------------------------------------

_HALLEY_ITERS = 2  # cubic convergence: from starts at most 4 % off, 2 steps reach scipy's accuracy
_SERIES_P = 1e-3  # below this distance p from the branch point the series alone is exact to ~1e-18
_SERIES_BELOW = -0.25  # the branch-point series starts W below this x, Winitzki's formula above
_ASYMPTOTIC_ABOVE = 100.0  # ... up to here, the asymptotic expansion beyond


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 where the device has it: near −1/e, W has a square-root singularity, so float32 inputs
    lose half their digits unless the distance to the branch point is formed in double precision."""
    if x.device.type == "mps":
        return torch.float32
    return torch.float64


def lambertw0(x: torch.Tensor) -> torch.Tensor:
    """Principal branch W₀(x) for real x ≥ −1/e, elementwise, in torch (no scipy, no host sync).

    Starts: the branch-point series in p = √(2(e·x+1)) below x = −0.25, Winitzki's
    L·(1 − ln(1+L)/(2+L)) with L = ln(1+x) on [−0.25, 100] and the asymptotic L₁ − L₂ + L₂/L₁ above;
    then two Halley steps on every element. Every start is within 4 % of W where it is used, so two
    cubic steps suffice: within 6e-16 of scipy above −0.25 (up to 1.7e308) and, nearer −1/e, within
    1.9e-14 of 40-digit mpmath (the former log1p start and three steps: 9.6e-14). Each elementwise
    operation is a kernel launch on a GPU and several microseconds on a CPU thread, so the count matters:
    the third step cost 14 operations and a guard against w + 1 = 0 three per step; a call now takes 61
    tensor operations instead of 77 (σ* in float32 is the same bits on a grid of 2·10⁶ losses). Within
    p < 1e-3 of the branch point the series is used as it is, because Halley's step divides by w + 1 → 0
    there; only those elements can meet w + 1 = 0 (their Halley value may then be inf or NaN, and is
    discarded).

    Args:
        x: any float tensor; values below −1/e are treated as −1/e.

    Returns:
        W₀(x) with the dtype and device of ``x`` (computed in float64 where the device supports it).
    """
    out_dtype = x.dtype
    z = x.detach().to(_compute_dtype(x))
    z = torch.clamp(z, min=-INV_E)
    # x + 1/e: the first sum is exact near −1/e (Sterbenz), the second adds the rounding of 1/e.
    dist = torch.clamp((z + INV_E) + _INV_E_LO, min=0.0)
    p = torch.sqrt(2.0 * math.e * dist)
    series = -1.0 + p * (
        1.0 + p * (-1.0 / 3.0 + p * (11.0 / 72.0 + p * (-43.0 / 540.0 + p * (769.0 / 17280.0))))
    )
    log1p_z = torch.log1p(z)  # > −0.46 for every z ≥ −1/e, so the next log1p is finite everywhere
    winitzki = log1p_z * (1.0 - torch.log1p(log1p_z) / (2.0 + log1p_z))
    log_z = torch.log(torch.clamp(z, min=_ASYMPTOTIC_ABOVE))
    log_log = torch.log(log_z)
    asymptotic = log_z - log_log + log_log / log_z
    w = torch.where(z < _SERIES_BELOW, series, torch.where(z > _ASYMPTOTIC_ABOVE, asymptotic, winitzki))
    # Halley on f(w) = w·e^w − x.
    for _ in range(_HALLEY_ITERS):
        ew = torch.exp(w)
        f = w * ew - z
        wp1 = w + 1.0
        w = w - f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))
    return torch.where(p < _SERIES_P, series, w).to(out_dtype)


def superloss_sigma(centred: torch.Tensor, lam: float) -> torch.Tensor:
    """SuperLoss confidence σ* = exp(−W₀(½·max(−2/e, (ℓ−τ)/λ))) (Castells et al. 2020, eq. 5).

    Args:
        centred: (B,) ℓ − τ, detached by the caller (σ* is a constant w.r.t. the model).
        lam: λ > 0.

    Returns:
        (B,) σ* ∈ (0, e], same dtype and device as ``centred``.
    """
    y = torch.clamp(centred.detach() / lam, min=-2.0 * INV_E)
    return torch.exp(-lambertw0(0.5 * y))
