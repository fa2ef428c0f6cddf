"""The ``sweeps:`` section of a study file, validated into :class:`SweepCell` objects before anything runs.

::

    sweeps:
      dl-a:                                   # the sweep's label
        method: discrimloss                   # a registered method
        base: paper                           # defaults, a preset of the method, {values}, or tuned
        grid: {a: [0.2, 0.27, 0.35]}          # 1 or 2 params: a list or {low, high, steps, scale}
        rates: [0.4]                          # optional: a subset of the study's noise rates

``base`` defaults to ``defaults``, the method's own defaults; explicit values override them.
``base: tuned`` takes the best parameters of this (dataset, noise, rate, method) tuned cell of the same
study, so the method must be listed under ``methods:`` and the study must run the ``tuned`` protocol.
Every value of every grid point, combined with the base, is checked by the method's own ``make_params``;
each problem is one clause with its key path, joined into the study's one :class:`StudyConfigError` line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmark.cells import Cell
from benchmark.errors import DiscrimBenchError, StudyConfigError, did_you_mean, short
from benchmark.registry import METHODS
from benchmark.sensitivity import GridAxis, GridValue, expand_axis, grid_points

if TYPE_CHECKING:
    from benchmark.cells import DatasetInfo
    from benchmark.config_schema import StudyConfig

__all__ = ["BASE_TUNED", "SWEEP_KEYS", "SweepCell", "resolve_sweeps"]

BASE_TUNED = "tuned"
BASE_DEFAULTS = "defaults"  # the method's own defaults (its Params' field defaults)
SWEEP_KEYS = ("method", "base", "grid", "rates")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_RESERVED = {"seed"}  # the trials' own parameter next to the swept ones


@dataclass(frozen=True)
class SweepCell(Cell):
    """One sweep at one (dataset, noise, rate): its grid points × the study's seeds, each one run.

    ``fixed`` holds the base values (empty for ``base: tuned``, resolved from the tuned cell at run time);
    ``protocol`` is ``sweep``. The grid's values replace the base's for the swept parameters.
    """

    sweep: str = ""
    axes: tuple[GridAxis, ...] = ()
    base: str = ""  # the preset's name, "values" for explicit values, or "tuned"
    seeds: tuple[int, ...] = ()

    @property
    def extra_tags(self) -> dict[str, str]:
        """The sweep's name, swept parameters and base, on the parent run and on every point's run."""
        return {
            "discrimbench.sweep": self.sweep,
            "discrimbench.swept": ",".join(axis.param for axis in self.axes),
            "discrimbench.base": self.base,
        }

    @property
    def cell_id(self) -> str:
        return f"{self.dataset}/{self.noise}/{self.rate:g}/{self.method}@sweep-{self.sweep}"

    @property
    def tuned_cell_id(self) -> str:
        """The tuned cell of the same (dataset, noise, rate, method): the base of ``base: tuned``."""
        return f"{self.dataset}/{self.noise}/{self.rate:g}/{self.method}"

    @property
    def provides_hardness(self) -> bool:
        return False

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(axis.param for axis in self.axes)

    @property
    def points(self) -> list[dict[str, GridValue]]:
        return grid_points(self.axes)

    @property
    def budget(self) -> int:
        """Runs of this sweep cell: every grid point once per seed."""
        return len(self.points) * len(self.seeds)

    @property
    def extra_cap(self) -> int:
        return 0

    def slot(self, point: Mapping[str, Any], seed: int) -> int:
        """The run's stable number: point index × seeds + seed index (its MLflow unit and ledger key)."""
        index = next(i for i, p in enumerate(self.points) if all(p[k] == point[k] for k in p))
        return index * len(self.seeds) + self.seeds.index(seed)


def resolve_sweeps(
    raw: Any, config: StudyConfig, infos: Mapping[str, DatasetInfo], errors: list[str]
) -> list[SweepCell]:
    """The sweep cells of a study's ``sweeps:`` section, in file order then dataset/noise/rate order.

    Problems are appended to ``errors`` (key path first); nothing is returned for a sweep with a problem.
    """
    if raw is None or raw == {}:
        return []
    if not isinstance(raw, Mapping):
        errors.append(f"sweeps: expected a mapping of sweep labels, got {type(raw).__name__}")
        return []
    cells: list[SweepCell] = []
    for label, spec in raw.items():
        where = f"sweeps.{label}"
        try:
            cells.extend(_sweep_cells(str(label), spec, config, infos, where))
        except DiscrimBenchError as exc:
            errors.append(" ".join(str(exc).split()))
    return cells


def _sweep_cells(
    label: str, spec: Any, config: StudyConfig, infos: Mapping[str, DatasetInfo], where: str
) -> list[SweepCell]:
    if not _LABEL.match(label):
        raise StudyConfigError(f"{where}: a label is letters, digits, '_', '.', '-' (at most 64)")
    if not isinstance(spec, Mapping):
        raise StudyConfigError(f"{where}: expected {{method, base, grid[, rates]}}, got {short(spec)}")
    for key in spec:
        if key not in SWEEP_KEYS:
            raise StudyConfigError(f"{where}.{key}: unknown key{did_you_mean(key, SWEEP_KEYS)}")
    for key in ("method", "grid"):
        if key not in spec:
            raise StudyConfigError(f"{where}.{key}: required key missing")
    method = spec["method"]
    if not isinstance(method, str) or method not in METHODS:
        raise StudyConfigError(f"{where}.method: {METHODS.unknown_message(method)}")
    cls = METHODS.get(method)
    base_name, base_values = _base(cls, spec.get("base", BASE_DEFAULTS), config, method, where)
    axes = _axes(spec["grid"], where)
    for axis in axes:
        if axis.param in _RESERVED:
            raise StudyConfigError(
                f"{where}.grid.{axis.param}: 'seed' is not a hyperparameter; the study's seeds are"
            )
        for value in axis.values:
            _check_params(
                cls, {**base_values, axis.param: value}, f"{where}.grid.{axis.param}={short(value)}"
            )
    if len(axes) == 2:  # a pair can be valid one at a time and invalid together
        for point in grid_points(axes):
            _check_params(cls, {**base_values, **point}, f"{where}.grid {short(point)}")
    rates = _rates(spec.get("rates"), config, where)
    selection = config.tuning.selections()[0]
    out: list[SweepCell] = []
    for dname, dkwargs in config.datasets.items():
        info = infos.get(dname)
        if info is None:
            continue  # the dataset's own error is reported already
        if info.task not in cls.tasks:
            raise StudyConfigError(
                f"{where}.method: {method!r} does not support {info.task} (dataset {dname})"
            )
        for nname, nspec in config.noises.items():
            for rate in nspec.rates:
                if rates is not None and rate not in rates:
                    continue
                defaults = dict(cls.make_params(base_values).model_dump())
                out.append(
                    SweepCell(
                        study=config.name, dataset=dname, dataset_kwargs=dict(dkwargs), noise=nname,
                        noise_params=dict(nspec.params), rate=float(rate), method=method,
                        fixed=dict(base_values), space={}, defaults=defaults,
                        selection=selection, n_trials=1, task=info.task, protocol="sweep",
                        sweep=label, axes=axes, base=base_name, seeds=tuple(config.seeds),
                    )
                )  # fmt: skip
    return out


def _base(cls: Any, base: Any, config: StudyConfig, method: str, where: str) -> tuple[str, dict[str, Any]]:
    """(name, values) of a sweep's base: the defaults, a preset, explicit values (over the defaults) or
    tuned."""
    if isinstance(base, Mapping):
        _check_params(cls, dict(base), f"{where}.base")
        return "values", dict(base)
    if base == BASE_TUNED:
        if method not in config.methods or "tuned" not in config.protocols:
            raise StudyConfigError(
                f"{where}.base: 'tuned' needs {method!r} under methods: and the tuned protocol (it sweeps "
                "around the tuned best of each cell)"
            )
        return BASE_TUNED, {}
    if base == BASE_DEFAULTS:
        return BASE_DEFAULTS, {}
    presets = cls.presets()
    if not isinstance(base, str) or base not in presets:
        choices = [BASE_DEFAULTS, *sorted(presets), BASE_TUNED]
        raise StudyConfigError(
            f"{where}.base={short(base)}: not a preset of {method}{did_you_mean(base, choices)} "
            f"(presets: {', '.join(choices)}, or a mapping of values)"
        )
    values = dict(presets[base])
    _check_params(cls, values, f"{where}.base")
    return str(base), values


def _axes(grid: Any, where: str) -> tuple[GridAxis, ...]:
    if not isinstance(grid, Mapping) or not 1 <= len(grid) <= 2:
        raise StudyConfigError(
            f"{where}.grid: expected one or two hyperparameters, each a list or {{low, high, steps, scale}}, "
            f"got {short(grid)}"
        )
    return tuple(expand_axis(str(param), spec, f"{where}.grid.{param}") for param, spec in grid.items())


def _rates(rates: Any, config: StudyConfig, where: str) -> set[float] | None:
    if rates is None:
        return None
    study_rates = {float(r) for n in config.noises.values() for r in n.rates}
    if not isinstance(rates, list) or not rates or not all(_is_number(r) for r in rates):
        raise StudyConfigError(f"{where}.rates: expected a non-empty list of the study's noise rates")
    missing = [r for r in rates if float(r) not in study_rates]
    if missing:
        raise StudyConfigError(
            f"{where}.rates: {short(missing[0])} is not a noise rate of the study "
            f"({', '.join(f'{r:g}' for r in sorted(study_rates))})"
        )
    return {float(r) for r in rates}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_params(cls: Any, values: dict[str, Any], where: str) -> None:
    """The method's own validation of ``values``; its message keeps the close-match suggestion."""
    try:
        cls.make_params(values)
    except DiscrimBenchError as exc:
        raise StudyConfigError(f"{where}: {exc}") from None
