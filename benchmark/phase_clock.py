"""Where a study's wall time goes: exclusive time per phase, measured by wrapping the functions of each
phase for the duration of one in-process run (``discrimbench bench --only quick``).

A phase's time is exclusive: time spent in a wrapped function minus the time of wrapped calls made from
inside it (MLflow logging called from a training epoch counts as tracking, not training). Wrapping costs
two ``perf_counter`` calls per wrapped call; nothing is sampled, so the phases add up to the wall time
together with ``other`` (what no wrapped function covers: planning, the progress bar, Python itself).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PhaseClock"]


@dataclass
class _Frame:
    phase: str
    start: float
    children: float = 0.0


@dataclass
class PhaseClock:
    """Accumulates exclusive seconds and call counts per phase.

    Attributes:
        seconds: phase → exclusive seconds.
        calls: phase → number of outermost calls into the phase.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    _stack: list[_Frame] = field(default_factory=list)

    def wrap(self, fn: Callable[..., Any], phase: str | Callable[..., str]) -> Callable[..., Any]:
        """``fn`` timed under ``phase`` (or under ``phase(*args, **kwargs)``, chosen per call)."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            name = phase(*args, **kwargs) if callable(phase) else phase
            outer = not self._stack or self._stack[-1].phase != name
            frame = _Frame(name, time.perf_counter())
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - frame.start
                self._stack.pop()
                self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - frame.children
                if outer:
                    self.calls[name] = self.calls.get(name, 0) + 1
                if self._stack:
                    self._stack[-1].children += elapsed

        return timed

    @contextmanager
    def patched(self, targets: list[tuple[Any, str, str | Callable[..., str]]]) -> Iterator[PhaseClock]:
        """Replace each ``(owner, attribute, phase)`` by its timed version, restored on exit."""
        with ExitStack() as stack:
            for owner, name, phase in targets:
                original = getattr(owner, name)
                setattr(owner, name, self.wrap(original, phase))
                stack.callback(setattr, owner, name, original)
            yield self
