"""Label-noise generators (importing this package registers them in ``NOISES``)."""

from __future__ import annotations

from benchmark.data.noise import asymmetric, idn, permute, real, regression, symmetric  # noqa: F401
from benchmark.data.noise._base import NoiseContext, NoiseGenerator, empirical_transition

__all__ = ["NoiseContext", "NoiseGenerator", "empirical_transition"]
