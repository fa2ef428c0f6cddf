"""One small registry type for datasets, noise generators, methods and models.

Register with a decorator, look up by name, list names::

    from benchmark.registry import METHODS

    @METHODS.register("ce", summary="softmax cross-entropy (MSE / smooth-L1 for regression)")
    class CE(LossMethod): ...

    METHODS.get("ce")        # the class
    METHODS.names()          # sorted names

Every component, built-in or third-party, arrives the same way: a package declares an entry point in the
group ``discrimbench.<kind>s`` (for example ``discrimbench.methods``) naming an importable module, and
importing it runs its ``@register`` decorators. DiscrimBench's own components are declared in its
``pyproject.toml`` exactly like a plugin's; this module names none of them. Entry points are loaded
lazily, the first time a registry is read.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import tomllib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from benchmark.errors import DiscrimBenchError, UnknownComponentError, close_names
from benchmark.method import LossMethod, WeightKind

__all__ = [
    "DATASETS",
    "METHODS",
    "MODELS",
    "NOISES",
    "Entry",
    "Registry",
    "load_builtin_components",
    "method_class",
    "method_weight_kind",
]

DISTRIBUTION = "discrimbench"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
"""The source checkout's project file: where the built-in entry points are declared. Read only when the
installed metadata does not declare them (a source tree on ``PYTHONPATH``, or an editable install made
before they were declared)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component: its name, the object, a one-line summary and where it came from."""

    name: str
    obj: T
    summary: str
    origin: str


class Registry(Generic[T]):
    """A name → object mapping with helpful errors and entry-point plugins.

    Args:
        kind: singular noun used in messages ("method", "dataset", ...).
        base: if given, registered classes must subclass it (checked at registration).
    """

    def __init__(self, kind: str, base: type | None = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        self._plugins_loaded = False

    @property
    def entry_point_group(self) -> str:
        return f"discrimbench.{self.kind}s"

    def register(self, name: str, *, summary: str = "", aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a duplicate name raises."""

        def decorator(obj: T) -> T:
            self.add(name, obj, summary=summary, aliases=aliases)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, summary: str = "", aliases: tuple[str, ...] = ()) -> None:
        """Register ``obj`` under ``name`` (the non-decorator form)."""
        if name != name.lower() or not name:
            raise ValueError(f"{self.kind} names must be non-empty lowercase, got {name!r}")
        if name in self._entries or name in self._aliases:
            raise ValueError(
                f"{self.kind} {name!r} is already registered "
                f"(by {self._entries[self._aliases.get(name, name)].origin})"
            )
        if self.base is not None and isinstance(obj, type) and not issubclass(obj, self.base):
            raise TypeError(f"{self.kind} {name!r} must subclass {self.base.__name__}")
        if not summary:
            doc = (getattr(obj, "__doc__", None) or "").strip()
            summary = doc.splitlines()[0] if doc else ""
        origin = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', name)}"
        self._entries[name] = Entry(name=name, obj=obj, summary=summary, origin=origin)
        for alias in aliases:
            self._aliases[alias] = name

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        installed = list(importlib.metadata.entry_points(group=self.entry_point_group))
        if not any(ep.dist is not None and ep.dist.name == DISTRIBUTION for ep in installed):
            for value in _source_entry_points(self.entry_point_group):
                importlib.import_module(value)  # DiscrimBench's own: an error here is a bug, not a plugin's
        for ep in installed:
            if ep.dist is not None and ep.dist.name == DISTRIBUTION:
                ep.load()
                continue
            try:
                ep.load()
            except DiscrimBenchError:
                raise
            except Exception as exc:  # a broken plugin must not take the whole CLI down
                warnings.warn(
                    f"could not load {self.kind} plugin {ep.name!r} ({ep.value}): {exc}",
                    stacklevel=2,
                )

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries or name in self._aliases

    def entry(self, name: str) -> Entry[T]:
        """The :class:`Entry` for ``name``; raises :class:`UnknownComponentError` with suggestions."""
        self._load_plugins()
        if name in self._aliases:
            target = self._aliases[name]
            warnings.warn(
                f"{self.kind} name {name!r} is deprecated, use {target!r}",
                DeprecationWarning,
                stacklevel=2,
            )
            name = target
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownComponentError(self.unknown_message(name)) from None

    def get(self, name: str) -> T:
        """The registered object for ``name``."""
        return self.entry(name).obj

    def unknown_message(self, name: object) -> str:
        """One line: the unknown name, the closest names and what is available."""
        names = self.names()
        close = close_names(name, names)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(names) if names else '(none)'}"

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted registered names matching a shell-style ``pattern``."""
        self._load_plugins()
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def entries(self) -> Iterator[Entry[T]]:
        for name in self.names():
            yield self._entries[name]

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._entries)


def _source_entry_points(group: str) -> list[str]:
    """The module names the source checkout's ``pyproject.toml`` declares in ``group`` (none when this
    is not a source checkout)."""
    try:
        project = tomllib.loads(PYPROJECT.read_text("utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return []
    if project.get("name") != DISTRIBUTION:
        return []
    return [str(value).partition(":")[0] for value in project.get("entry-points", {}).get(group, {}).values()]


DATASETS: Registry[Any] = Registry("dataset")
NOISES: Registry[Any] = Registry("noise")
METHODS: Registry[type[LossMethod]] = Registry("method", base=LossMethod)
MODELS: Registry[Any] = Registry("model")


def load_builtin_components() -> None:
    """Load every registry's entry points now (the built-in components and installed plugins), so that
    import errors surface here rather than at the first look-up."""
    for registry in (DATASETS, NOISES, METHODS, MODELS):
        registry.names()


def method_class(name: str) -> type[LossMethod] | None:
    """The registered class of method ``name``; None for one not registered here (a results file from a
    plugin not installed, or a study's label that is not a method's name)."""
    return METHODS.get(name) if name in METHODS else None


def method_weight_kind(name: str) -> WeightKind | None:
    """What the per-sample weights of method ``name`` are (``LossMethod.weight_kind``); None for a method
    without weights or one not registered here (a results file from a plugin not installed)."""
    cls = method_class(name)
    return cls.weight_kind if cls is not None else None
