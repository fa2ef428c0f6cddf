"""``baselines._functional.scalar``: a cached constant tensor gives the same bits as the Python number.

The oracle is torch's own arithmetic with the Python number (what the methods wrote before), on values
that stress rounding: random normals, subnormals, huge values, signed zeros, infinities and NaN.
"""

from __future__ import annotations

import math

import pytest
import torch

from baselines._functional import scalar

CONSTANTS = [0.9, 0.1, 1.0 / 0.6861894039, 2.609431898226351, 2.35e-33, 1e300, 5e-324, -0.0, 0.0, -3.5]


def operands(dtype: torch.dtype) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    info = torch.finfo(dtype)
    special = [0.0, -0.0, info.tiny, info.tiny / 8, info.max, -info.max, math.inf, -math.inf, math.nan]
    return torch.cat([torch.randn(4096, generator=gen, dtype=dtype), torch.tensor(special, dtype=dtype)])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("constant", CONSTANTS)
def test_arithmetic_with_the_tensor_equals_arithmetic_with_the_number(
    dtype: torch.dtype, constant: float
) -> None:
    x = operands(dtype)
    c = scalar(constant, dtype)
    assert isinstance(c, torch.Tensor) and c.dtype == dtype and c.dim() == 0 and c.device.type == "cpu"
    pairs = [(x * c, x * constant), (c * x, constant * x), (x - c, x - constant), (x + c, x + constant)]
    pairs += [(x / c, x / constant), (x != c, x != constant)]
    for ours, torchs in pairs:
        assert ours.dtype == torchs.dtype
        assert torch.equal(bits(ours), bits(torchs))


def bits(t: torch.Tensor) -> torch.Tensor:
    """The tensor's bit patterns (NaN payloads and the sign of zero included)."""
    ints = {torch.float32: torch.int32, torch.float64: torch.int64}
    return t.view(ints[t.dtype]) if t.dtype in ints else t


def test_signed_zeros_are_two_constants() -> None:
    """0.0 == −0.0 in Python (and in a cache key), but 1/(−0.0) = −inf: each zero keeps its sign."""
    assert torch.equal(1.0 / scalar(-0.0, torch.float32), torch.tensor(-math.inf))
    assert torch.equal(1.0 / scalar(0.0, torch.float32), torch.tensor(math.inf))


def test_one_cached_tensor_per_value_and_dtype() -> None:
    assert scalar(0.9, torch.float32) is scalar(0.9, torch.float32)
    assert scalar(0.9, torch.float64) is not scalar(0.9, torch.float32)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_half_precision_gets_the_python_number(dtype: torch.dtype) -> None:
    """Their kernels read a wrapped number at float precision: a constant of their own dtype would not."""
    assert scalar(0.9, dtype) == 0.9 and isinstance(scalar(0.9, dtype), float)
