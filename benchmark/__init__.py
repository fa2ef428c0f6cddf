"""DiscrimBench: a reproducibility benchmark suite for learning with noisy labels."""

from __future__ import annotations

__version__ = "0.1.0"
