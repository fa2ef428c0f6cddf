"""The dataset-adapter base class and the data root.

An adapter knows one dataset: its task, classes, recipes, where its files go, and how to load
:class:`RawData` (clean targets in native order). Options (sizes of generated data, label sets, image
size) are constructor keyword arguments, checked against :attr:`DatasetAdapter.defaults`, so an unknown
or malformed option fails before anything is loaded.
"""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from benchmark.data._base import RawData, Recipe, Task
from benchmark.data._options import merge_options
from benchmark.errors import HyperparameterError, StudyConfigError, short
from benchmark.registry import DATASETS

__all__ = ["DATA_ENV", "DatasetAdapter", "get_adapter", "resolve_data_root"]

DATA_ENV = "DISCRIMBENCH_DATA"
RecipeKind = Literal["fast", "paper"]
SEED_OPTION_MAX = 2**32 - 1
SIZE_MAX = 1_000_000


def resolve_data_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``data_root`` if given, else ``$DISCRIMBENCH_DATA``, else ``./datasets``."""
    if data_root is not None:
        return Path(data_root).expanduser().resolve()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser().resolve() if env else (Path.cwd() / "datasets").resolve()


class DatasetAdapter(abc.ABC):
    """One dataset. Subclasses set the class attributes and implement :meth:`load` and :meth:`fast_recipe`.

    Attributes:
        name: registry name (also the folder under the data root for real datasets).
        task: classification or regression.
        num_classes: classes (None for regression).
        source / licence / size: for ``data describe`` and the README table.
        embedded: True when no files are needed (generated or bundled with a package).
        defaults: the options and their defaults; the constructor refuses other names.
        noise_defaults: per-noise default params for this dataset (DigitSum's random permute block).
        official_val: True when the dataset ships its own validation split (then ``val_fraction`` is unused).
        lazy_inputs: True when inputs are read from files on demand (noises that read inputs do not apply).
        ships_noisy_labels: True when the dataset comes with noisy labels (the ``real`` noise applies).
    """

    name: ClassVar[str]
    task: ClassVar[Task]
    num_classes: ClassVar[int | None] = None
    source: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    size: ClassVar[str] = ""
    embedded: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {}
    noise_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    official_val: ClassVar[bool] = False
    lazy_inputs: ClassVar[bool] = False
    ships_noisy_labels: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs: dict[str, Any] = merge_options(
            f"dataset {self.name!r}", "option", self.defaults, kwargs, HyperparameterError
        )
        self.validate()

    def validate(self) -> None:
        """Check option values; override to add checks (raise :class:`HyperparameterError`)."""

    def _int_option(self, key: str, low: int, high: int | None = None) -> int:
        """An integer option in ``[low, high]``; without ``high``, seeds stay in numpy's seed range and
        every other integer (a size) at most :data:`SIZE_MAX`, so no option can exhaust the machine."""
        value = self.kwargs[key]
        why = ""
        if high is None:
            high, why = (
                (SEED_OPTION_MAX, " (numpy's seed range)")
                if "seed" in key
                else (SIZE_MAX, " (generated data is held in memory)")
            )
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise HyperparameterError(
                f"dataset {self.name!r} option {key}={short(value)} is not allowed; need an integer with "
                f"{low} <= {key} <= {high:,}{why}"
            )
        return value

    def _choice_option(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.kwargs[key]
        if value not in choices:
            raise HyperparameterError(
                f"dataset {self.name!r} option {key}={value!r} is not allowed; "
                f"choose one of {', '.join(choices)}"
            )
        return str(value)

    # ----------------------------------------------------------------- description
    @property
    def target_range(self) -> tuple[float, float] | None:
        """(low, high) of regression targets, None for classification."""
        return None

    @property
    def target_scale(self) -> float:
        """The regression targets' typical size (the unit of the task loss): the midpoint of
        :attr:`target_range` unless a dataset says otherwise, so that no regression dataset silently
        gets 1 (SuperLoss's ``lam_units: target`` reads it); 1 for classification."""
        if self.target_range is None:
            return 1.0
        low, high = self.target_range
        return (low + high) / 2.0

    @property
    @abc.abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input as the model receives it (e.g. (3, 32, 32), (20,))."""

    @abc.abstractmethod
    def fast_recipe(self) -> Recipe:
        """A CPU-sized recipe (small model, few epochs)."""

    def paper_recipe(self) -> Recipe | None:
        """The DiscrimLoss paper's recipe (spec c.1-c.6), or None where the paper has none."""
        return None

    def recipe(self, kind: RecipeKind) -> Recipe:
        """The ``fast`` or ``paper`` recipe; an unavailable kind raises :class:`StudyConfigError`."""
        if kind == "fast":
            return self.fast_recipe()
        if kind == "paper":
            paper = self.paper_recipe()
            if paper is None:
                raise StudyConfigError(
                    f"recipe_kind='paper' is not available for dataset {self.name!r} (the paper does not "
                    "use it); use recipe_kind='fast'"
                )
            return paper
        raise StudyConfigError(f"recipe_kind={kind!r} is not allowed; use 'fast' or 'paper'")

    def applicable_noises(self) -> list[str]:
        """Names of the registered noise generators that can run on this dataset."""
        from benchmark.registry import NOISES

        out = []
        for entry in NOISES.entries():
            gen = entry.obj
            if self.task not in gen.tasks:
                continue
            if gen.needs_classes is not None and gen.needs_classes != self.num_classes:
                continue
            if gen.meant_for is not None and self.name not in gen.meant_for:
                continue
            if (gen.needs_inputs and self.lazy_inputs) or (entry.name == "real") != self.ships_noisy_labels:
                continue
            out.append(entry.name)
        return out

    # ----------------------------------------------------------------- files
    def location(self, root: Path) -> Path:
        """The folder where this dataset's files go under the data root."""
        return root / self.name

    def required_files(self, root: Path) -> list[Path]:
        """Files that must exist for :meth:`load` to work (empty for embedded datasets)."""
        return []

    def is_present(self, root: Path) -> bool:
        return all(p.exists() for p in self.required_files(root))

    def cache_key(self, root: Path) -> tuple[Any, ...]:
        """Key for the per-process cache of loaded data (root matters only for real datasets)."""
        items = tuple(sorted((k, repr(v)) for k, v in self.kwargs.items()))
        return (self.name, items, None if self.embedded else str(root))

    @abc.abstractmethod
    def load(self, root: Path, download: bool = False) -> RawData:
        """Load the clean data in native order.

        Raises:
            DataMissingError: files are missing (one line: what, where, how to get it).
            DataCorruptError: a file exists but cannot be parsed (names the file).
        """

    def describe(self, root: Path) -> dict[str, Any]:
        """A JSON-ready summary for ``discrimbench data describe``."""
        recipes: dict[str, Any] = {"fast": _recipe_dict(self.fast_recipe())}
        paper = self.paper_recipe()
        if paper is not None:
            recipes["paper"] = _recipe_dict(paper)
        return {
            "name": self.name,
            "task": self.task,
            "num_classes": self.num_classes,
            "target_range": self.target_range,
            "input_shape": list(self.input_shape),
            "size": self.size,
            "source": self.source,
            "licence": self.licence,
            "embedded": self.embedded,
            "official_val": self.official_val,
            "noises": self.applicable_noises(),
            "options": self.kwargs,
            "location": None if self.embedded else str(self.location(root)),
            "required_files": [str(p) for p in self.required_files(root)],
            "present": self.is_present(root),
            "recipes": recipes,
        }


def _recipe_dict(recipe: Recipe) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(recipe)


def get_adapter(name: str, **kwargs: Any) -> DatasetAdapter:
    """The adapter registered as ``name``, built with ``kwargs`` (unknown names list close matches)."""
    cls = DATASETS.get(name)
    adapter: DatasetAdapter = cls(**kwargs)
    return adapter
