"""Performance measurements of ``discrimbench bench``; ``benchmarks/`` holds thin scripts that call in.

Every figure is a ratio measured side by side in one invocation (so that machine load hits both sides
alike) or an absolute number printed with the machine it was measured on. Study-level figures run the
real CLI in subprocesses (what a user waits for), in rounds that run every configuration once in a rotated
order; a figure is the ratio of the configurations' medians over the rounds, as for the engine's epochs:
on a shared virtual machine single runs drift by tens of per cent, and the fastest of a few runs follows
whichever got a lucky moment.

Modules, one group of figures each: :mod:`~benchmark.perf.engine_speed` (``engine``),
:mod:`~benchmark.perf.scale` (``scale``), :mod:`~benchmark.perf.whole_run` (``run``),
:mod:`~benchmark.perf.study_speed` (``tracking``, ``workers``), :mod:`~benchmark.perf.split` (``quick``),
:mod:`~benchmark.perf.gpu` (``gpu``); :mod:`~benchmark.perf.ceiling` is the machine's two-process ceiling
and :mod:`~benchmark.perf.figure` the figure itself. A group's module is imported only when it is measured.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from benchmark.perf.figure import Figure, machine

__all__ = ["GROUPS", "GROUP_SOURCES", "Figure", "machine", "measure"]


def _group(module: str, function: str) -> Callable[[bool], list[Figure]]:
    """The figures function ``function`` of ``benchmark.perf.<module>``, imported when first called."""

    def figures(quick: bool) -> list[Figure]:
        found: Callable[[bool], list[Figure]] = getattr(
            importlib.import_module(f"benchmark.perf.{module}"), function
        )
        return found(quick)

    figures.__name__ = function
    return figures


# group -> (module of benchmark.perf, its figures function), in the order ``bench`` measures them
GROUP_SOURCES = {
    "engine": ("engine_speed", "engine_figures"),
    "scale": ("scale", "scale_figures"),
    "run": ("whole_run", "run_figures"),
    "tracking": ("study_speed", "tracking_figures"),
    "workers": ("study_speed", "workers_figures"),
    "quick": ("split", "quick_figures"),
    "gpu": ("gpu", "gpu_figures"),
}
GROUPS: dict[str, Callable[[bool], list[Figure]]] = {k: _group(*v) for k, v in GROUP_SOURCES.items()}


def measure(only: Sequence[str] | None = None, quick: bool = False) -> list[Figure]:
    """Measure the chosen groups (all by default), in a fixed order."""
    names = list(GROUPS) if not only else [g for g in GROUPS if g in set(only)]
    figures: list[Figure] = []
    for name in names:
        figures.extend(GROUPS[name](quick))
    return figures
