"""The loss methods compared by DiscrimBench, one module each (importing this registers them).

Declared as the ``discrimbench.methods`` entry point ``builtin`` in pyproject.toml: the built-in methods
are a plugin like any other, written against the public API (:mod:`benchmark.method`,
:mod:`benchmark.space`, :mod:`benchmark.registry`).
"""

from __future__ import annotations

from baselines import ce, coteaching, discrimloss, gce, superloss

__all__ = ["ce", "coteaching", "discrimloss", "gce", "superloss"]
