"""A measured figure of ``discrimbench bench`` and the machine it was measured on.

Every figure is a ratio measured side by side in one invocation (so that machine load hits both sides
alike) or an absolute number printed with the machine it was measured on.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

__all__ = ["Figure", "machine", "rotated_rounds"]

_T = TypeVar("_T")


@dataclass
class Figure:
    """One measured figure and its target.

    Attributes:
        name: stable key, e.g. ``tracking/none``.
        value: the measurement (a ratio or seconds); None when skipped.
        target: the bound the issue sets; None for figures that are only reported.
        op: ``<=`` (value must not exceed target) or ``>=``.
        unit: ``x`` for ratios, ``s``, ``MiB``, ``%``.
        note: how it was measured or why it was skipped.
    """

    name: str
    value: float | None
    target: float | None = None
    op: str = "<="
    unit: str = "x"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """PASS / FAIL against the target, ``info`` without one, ``skipped`` without a value."""
        if self.value is None:
            return "skipped"
        if self.target is None:
            return "info"
        ok = self.value <= self.target if self.op == "<=" else self.value >= self.target
        return "PASS" if ok else "FAIL"

    def line(self) -> str:
        """The console line: name, value, target and verdict."""
        value = "-" if self.value is None else f"{self.value:.3f}{self.unit}"
        target = "" if self.target is None else f"(target {self.op} {self.target:g}{self.unit})"
        return f"{self.name:<22} {value:>12}  {target:<18} {self.verdict:<7} {self.note}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def machine() -> dict[str, Any]:
    """The machine the figures were measured on (absolute times mean nothing without it, and ratios to CE
    differed by about one point between two 2-core VMs, the later with AVX-512: the instruction set torch's
    CPU kernels use is part of it)."""
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def rotated_rounds(items: Sequence[_T], rounds: int) -> Iterator[tuple[int, _T]]:
    """``(round, item)`` for every item in every round, in an order rotated from round to round: a machine
    that speeds up or slows down while the figures are measured favours no configuration."""
    for r in range(rounds):
        shift = r % len(items)
        for item in [*items[shift:], *items[:shift]]:
            yield r, item
