"""A study's method entries: label, registered method, preset, fixed values and search space.

Every rule about a method comes from the method itself (``LossMethod.tasks``, ``presets``,
``search_space``, ``make_params``, ``official_params``); this module only combines them with the study
file's entry and reports every problem with its key path (``methods.<label>...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.config_schema import METHOD_OPTIONS, MethodSpec
from benchmark.errors import DiscrimBenchError, did_you_mean, short
from benchmark.method import LossMethod, MethodContext
from benchmark.registry import METHODS
from benchmark.space import Distribution, endpoints, parse_distribution

__all__ = [
    "LABEL_PATTERN",
    "MethodEntry",
    "check_method_entries",
    "official_cell_values",
    "resolve_method_entry",
]

LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,99}$")
"""A method label: lowercase like a registered name, safe in a cell id, a file name and an MLflow tag."""


@dataclass(frozen=True)
class MethodEntry:
    """One method entry resolved for a dataset: the values it fixes, what it searches, its defaults."""

    label: str
    method: str
    fixed: dict[str, Any]
    space: dict[str, Distribution]
    defaults: dict[str, Any]


def method_name(label: str, spec: MethodSpec) -> str:
    """The registered method of an entry: ``method:`` when given, else the label."""
    return spec.method if spec.method is not None else label


def check_method_entries(methods: Mapping[str, MethodSpec], errors: list[str]) -> None:
    """Labels, registered names, presets and option keys of every entry (dataset-independent checks)."""
    for label, spec in methods.items():
        key = f"methods.{label}"
        name = method_name(label, spec)
        if label != name and not LABEL_PATTERN.match(label):
            errors.append(
                f"{key}: a label is 1-100 characters of a-z, 0-9, '_', '.', '+', '-', lowercase first"
            )
            continue
        if name not in METHODS:
            where = f"{key}.method" if spec.method is not None else key
            errors.append(f"{where}: {METHODS.unknown_message(name)}")
            continue
        if label != name and label in METHODS:
            errors.append(f"{key}: the label names another registered method; choose another label")
            continue
        cls = METHODS.get(name)
        fields = cls.Params.model_fields
        for option in spec.overrides():
            if option not in fields:
                hint = did_you_mean(option, [*fields, *METHOD_OPTIONS])
                errors.append(f"{key}.{option}: not a hyperparameter of {name} nor a method option{hint}")
        if spec.preset is not None:
            try:
                cls.preset_values(spec.preset)
            except DiscrimBenchError as exc:
                errors.append(f"{key}.preset: {exc}")
        for option in spec.overrides():
            if option in spec.fixed:
                errors.append(f"{key}: {option!r} is given both beside fixed and inside it; keep one")


def _fixed_values(cls: type[LossMethod], spec: MethodSpec) -> dict[str, Any]:
    """The preset's values (bar the searched ones), then the entry's own keys, then ``fixed``."""
    preset = cls.preset_values(spec.preset) if spec.preset is not None else {}
    preset = {k: v for k, v in preset.items() if k not in spec.search}
    return {**preset, **spec.overrides(), **spec.fixed}


def resolve_method_entry(
    label: str, spec: MethodSpec, info: Any, epochs: int, rate: float, errors: list[str]
) -> MethodEntry | None:
    """The entry for one dataset (``info``: task, classes, size), or None with the problem in ``errors``."""
    name = method_name(label, spec)
    cls = METHODS.get(name)
    key = f"methods.{label}"
    if info.task not in cls.tasks:
        errors.append(f"{key}: method {name!r} does not support {info.task} (dataset {info.name})")
        return None
    fixed = _fixed_values(cls, spec)
    try:
        cls.make_params(fixed)
    except DiscrimBenchError as exc:
        errors.append(f"{key}.fixed: {exc}")
        return None
    ctx = MethodContext(
        task=info.task,
        num_classes=info.num_classes,
        n_train=max(1, int(info.n_train or 1)),
        epochs=epochs,
        noise_rate=rate,
    )
    space: dict[str, Distribution] = dict(cls.search_space(ctx)) if spec.default_space else {}
    for pname, value in spec.search.items():
        try:
            space[pname] = parse_distribution(value, space.get(pname))
        except ValueError as exc:
            errors.append(f"{key}.search.{pname}={short(value)}: {exc}")
            return None
    for pname in fixed:
        space.pop(pname, None)  # a fixed value wins over the default space
    for pname in spec.search:
        if pname in spec.fixed or pname in spec.overrides():
            errors.append(f"{key}: {pname!r} is both fixed and searched; keep one")
            return None
    for pname, dist in space.items():
        for probe in endpoints(dist):
            try:
                cls.make_params({**fixed, pname: probe})
            except DiscrimBenchError as exc:
                errors.append(f"{key}.search.{pname}: bound {short(probe)} is invalid: {exc}")
                return None
    defaults = dict(cls.make_params(fixed).model_dump())
    return MethodEntry(label=label, method=name, fixed=fixed, space=space, defaults=defaults)


def official_cell_values(
    label: str, spec: MethodSpec, dataset: str, noise: str, rate: float, regression_loss: str
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(fixed values, their validated defaults, whether the method published values for the cell) of a
    ``paper-official`` cell: the method's official values over the entry's fixed ones.

    Raises:
        DiscrimBenchError: the combined values are invalid.
    """
    cls = METHODS.get(method_name(label, spec))
    official = cls.official_params(dataset, noise, float(rate), regression_loss) or {}
    fixed = {**_fixed_values(cls, spec), **official}
    return fixed, dict(cls.make_params(fixed).model_dump()), bool(official)
