"""The noise-generator contract: a registered :class:`NoiseGenerator` wraps a pure function.

A generator function maps (clean targets, rate, numpy Generator, context, params) to a
:class:`~benchmark.data._base.NoiseResult`. It draws every random number from the Generator it is given
(the run's ``noise`` stream), so a realisation depends only on the targets, the rate, the seed and the
params. :meth:`NoiseGenerator.apply` checks task, rate and params first and raises
:class:`NoiseGenerationError` with one line naming the generator, the value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.data._base import NoiseResult, Task
from benchmark.data._options import merge_options
from benchmark.errors import NoiseGenerationError

__all__ = [
    "NoiseContext",
    "NoiseFn",
    "NoiseGenerator",
    "classification_result",
    "empirical_transition",
    "regression_result",
]


@dataclass(frozen=True)
class NoiseContext:
    """What a generator may know besides the clean targets.

    Attributes:
        task: the dataset's task.
        num_classes: number of classes (None for regression).
        x: (N, ...) training inputs as a numpy array (only for generators with ``needs_inputs``).
        shipped: (N,) noisy targets shipped with the dataset (for ``real``), or None.
        dataset: dataset name (for messages).
        seed: the run seed (only ``rng: official`` reads it, to replay a reference's seeding).
    """

    task: Task
    num_classes: int | None
    x: np.ndarray | None = None
    shipped: np.ndarray | None = None
    dataset: str = ""
    seed: int | None = None


NoiseFn = Callable[..., NoiseResult]


@dataclass(frozen=True)
class NoiseGenerator:
    """A registered noise generator.

    Attributes:
        name: registry name.
        fn: ``fn(clean, rate, rng, ctx, **params) -> NoiseResult``.
        tasks: tasks it applies to.
        max_rate: ``max_rate(num_classes) -> (bound, inclusive)``; rates above (or at, when not
            inclusive) the bound are refused.
        defaults: default params; unknown param names are refused.
        needs_inputs: True when the generator reads the inputs (``idn``).
        needs_classes: exact number of classes required (``asym-cifar10``: 10), or None.
        meant_for: datasets whose class semantics the generator encodes (listed as applicable only
            there; other datasets with the right class count are still allowed), or None for any.
    """

    name: str
    fn: NoiseFn
    tasks: tuple[Task, ...]
    max_rate: Callable[[int | None], tuple[float, bool]] = lambda _c: (1.0, False)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    needs_inputs: bool = False
    needs_classes: int | None = None
    meant_for: tuple[str, ...] | None = None

    def allowed_range(self, num_classes: int | None) -> str:
        """Human-readable allowed rate interval, e.g. ``0 <= rate <= 0.9``."""
        bound, inclusive = self.max_rate(num_classes)
        return f"0 <= rate {'<=' if inclusive else '<'} {bound:.6g}"

    def check(self, task: Task, rate: float, num_classes: int | None, dataset: str = "") -> None:
        """Refuse a task or rate this generator cannot realise (one-line NoiseGenerationError)."""
        where = f" on dataset {dataset!r}" if dataset else ""
        if task not in self.tasks:
            raise NoiseGenerationError(
                f"noise {self.name!r} applies to {' and '.join(self.tasks)} tasks only, got a {task} "
                f"task{where}"
            )
        if self.needs_classes is not None and num_classes != self.needs_classes:
            raise NoiseGenerationError(
                f"noise {self.name!r} needs {self.needs_classes} classes, "
                f"got num_classes={num_classes}{where}"
            )
        bound, inclusive = self.max_rate(num_classes)
        ok = isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate < 1.0
        ok = ok and (rate <= bound + 1e-12 if inclusive else rate < bound)
        if not ok:
            raise NoiseGenerationError(
                f"noise {self.name!r} cannot realise rate={rate!r}{where}; allowed: "
                f"{self.allowed_range(num_classes)}"
            )

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults updated with ``params``; unknown names are refused."""
        return merge_options(f"noise {self.name!r}", "parameter", self.defaults, params, NoiseGenerationError)

    def apply(
        self,
        clean: np.ndarray,
        rate: float,
        rng: np.random.Generator,
        ctx: NoiseContext,
        params: Mapping[str, Any] | None = None,
    ) -> NoiseResult:
        """Check, then run the generator on ``clean`` (N,) targets."""
        self.check(ctx.task, rate, ctx.num_classes, ctx.dataset)
        resolved = self.resolve_params(params or {})
        if self.needs_inputs and ctx.x is None:
            raise NoiseGenerationError(
                f"noise {self.name!r} needs the inputs as an in-memory tensor, which dataset "
                f"{ctx.dataset!r} does not provide (it loads images lazily)"
            )
        return self.fn(np.asarray(clean), float(rate), rng, ctx, **resolved)


def empirical_transition(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) row-stochastic P(noisy=j | clean=i) counted from the samples (absent rows are zero)."""
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(counts, (clean.astype(np.int64), noisy.astype(np.int64)), 1.0)
    rows = counts.sum(axis=1, keepdims=True)
    return np.asarray(np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0))


def classification_result(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> NoiseResult:
    """Package noisy class labels: mask = changed, realised rate, empirical transition matrix."""
    noisy = noisy.astype(clean.dtype, copy=False)
    mask = noisy != clean
    rate = float(mask.mean()) if mask.size else 0.0
    return NoiseResult(noisy, mask, rate, empirical_transition(clean, noisy, num_classes))


def regression_result(clean: np.ndarray, noisy: np.ndarray) -> NoiseResult:
    """Package noisy regression targets: mask = changed, realised rate, no transition matrix."""
    noisy = noisy.astype(clean.dtype, copy=False)
    mask = noisy != clean
    return NoiseResult(noisy, mask, float(mask.mean()) if mask.size else 0.0, None)
