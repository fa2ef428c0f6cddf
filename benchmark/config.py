"""Study files: the YAML schema, loading (files and packaged presets) and validation into cells.

A study file holds only registry names and parameters (read by :mod:`benchmark.study_reader`: no tags, no
aliases, no duplicate keys, bounded size, depth and integers)::

    name: my-study
    datasets: {digits: {}, mnist1d: {n_train: 2000}}     # or a list of names
    noises: {sym-excl: {rates: [0, 0.2, 0.4], params: {}}}
    methods:                                            # or a list of names
      ce: {}
      discrimloss: {search: {tanh_a: [0.2, 0.35]}, fixed: {sup_eps: 3}}
    seeds: [1, 2, 3]
    tuning: {n_trials: 3, sampler_seed: 0, pruner: median, selection: noisy-val}
    training: {epochs: 5, device: cpu, recipe: {batch_size: 64}, recipe_kind: fast}
    storage: {optuna: null, mlflow: null}                # null: SQLite files in the output folder
    out: results/my-study
    protocols: [tuned]        # add paper-official: the official per-cell hyperparameters, no tuning
    official_selection: test-oracle                     # the paper's selection rule (paper-official cells)
    official_noise_params: {rng: official}              # noise options of paper-official cells only

Validation runs completely before anything is trained: (1) the pydantic schema (unknown keys refused),
(2) registry names, (3) each method's parameters and search bounds through its own ``make_params``,
(4) cross-field checks (noise vs task, realisable rates). Every problem is collected with its YAML key path
and raised as one :class:`StudyConfigError` line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from baselines._base import Choice, Distribution, FloatRange, IntRange
from benchmark.errors import DiscrimBenchError, StudyConfigError, short
from benchmark.registry import DATASETS, METHODS, NOISES, load_builtin_components
from benchmark.study_reader import parse_study_text, preset_names, read_study_source

__all__ = [
    "Cell",
    "MethodSpec",
    "NoiseSpec",
    "ResolvedStudy",
    "StorageSpec",
    "StudyConfig",
    "TrainingSpec",
    "TuningSpec",
    "load_study",
    "preset_names",
    "resolve_study",
]

SEED_MAX = 2**62  # the range the repeats draw seeds from (benchmark.study)
SAMPLER_SEED_MAX = 2**32 - 1  # numpy.random.RandomState, which Optuna's samplers seed
EPOCHS_MAX = 100_000
THREADS_MAX = 1_024  # torch's thread pools; more threads than cores only slows training down

Selection = Literal["noisy-val", "clean-val", "test-oracle"]
Protocol = Literal["tuned", "paper-official"]
PROTOCOL_NOTES = {
    "tuned": "hyperparameters tuned with the study's budget and selection split",
    "paper-official": "the method authors' own per-cell hyperparameters (paper defaults where they published "
    "none), fixed, no tuning; the epoch picked by the paper's selection rule: a re-run of the paper's row, "
    "not a fair comparison",
}
SELECTION_SERIES = {"noisy-val": "val/{m}", "clean-val": "val/{m}_clean", "test-oracle": "test/{m}"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoiseSpec(_Model):
    """One noise generator: the nominal rates of its cells and the generator's options."""

    rates: list[float] = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _rates_in_range(cls, rates: list[float]) -> list[float]:
        for rate in rates:
            if not (0.0 <= rate < 1.0) or not math.isfinite(rate):
                raise ValueError(f"rate must satisfy 0 <= rate < 1, got {short(rate)}")
        if len(set(rates)) != len(rates):
            raise ValueError(f"rates must be unique, got {short(rates)}")
        return rates


class MethodSpec(_Model):
    """A method's fixed values and search-space overrides.

    ``search`` maps a hyperparameter to ``[low, high]`` (a range of the default's kind), a list of other
    length or ``{choices: [...]}`` (categorical) or ``{low, high, log, step}``. ``default_space: false``
    drops the method's own search space so only ``search`` is tuned.
    """

    fixed: dict[str, Any] = Field(default_factory=dict)
    search: dict[str, Any] = Field(default_factory=dict)
    default_space: bool = True


class TuningSpec(_Model):
    """The tuning budget and protocol, identical for every cell."""

    n_trials: int = Field(default=3, ge=1, le=10_000, description="COMPLETED trials per tunable cell")
    max_extra_trials: int | None = Field(
        default=None, ge=0, le=100_000, description="pruned + failed trials a cell may add (None: n_trials)"
    )
    prune_startup_trials: int = Field(
        default=3, ge=1, le=10_000, description="completed trials before any pruning"
    )
    prune_warmup_fraction: float = Field(
        default=0.25, ge=0.0, le=1.0, description="share of the epochs no trial is pruned in"
    )
    sampler_seed: int = Field(default=0, ge=0, le=SAMPLER_SEED_MAX, description="numpy's seed range")
    seed: int = Field(default=0, ge=0, le=SEED_MAX, description="training seed of the tuning trials")
    pruner: Literal["median", "hyperband", "none"] = "median"
    selection: Selection | list[Selection] = "noisy-val"

    def selections(self) -> list[str]:
        return [self.selection] if isinstance(self.selection, str) else list(dict.fromkeys(self.selection))


class TrainingSpec(_Model):
    """Overrides of the datasets' training recipes shared by every run."""

    epochs: int | None = Field(default=None, ge=1, le=EPOCHS_MAX)
    device: str = "auto"
    recipe: dict[str, Any] = Field(default_factory=dict)
    recipe_kind: Literal["fast", "paper"] = "fast"
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    data_root: str | None = None
    threads: int | None = Field(default=None, description="torch CPU threads (None: torch's default)")

    @field_validator("threads")
    @classmethod
    def _threads_bounded(cls, threads: int | None) -> int | None:
        if threads is not None and not 1 <= threads <= THREADS_MAX:
            raise ValueError(
                f"need 1 <= threads <= {THREADS_MAX} (torch's thread pool; more threads than cores only slow "
                f"training, this machine has {os.cpu_count()})"
            )
        return threads


class StorageSpec(_Model):
    """Where trials and tracking go; ``None`` means SQLite files inside the output folder.

    ``mlflow: none`` disables tracking. ``heartbeat_interval`` / ``grace_period`` (seconds) apply to RDB
    storages (PostgreSQL): a trial whose worker stops beating for ``grace_period`` is failed and retried.
    """

    optuna: str | None = None
    mlflow: str | None = None
    heartbeat_interval: int = Field(default=10, ge=1, le=86_400)
    grace_period: int = Field(default=60, ge=2, le=86_400)


class StudyConfig(_Model):
    """The whole study file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    datasets: dict[str, dict[str, Any]] = Field(min_length=1)
    noises: dict[str, NoiseSpec] = Field(min_length=1)
    methods: dict[str, MethodSpec] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1, max_length=1_000)
    tuning: TuningSpec = Field(default_factory=TuningSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    out: str | None = None
    protocols: list[Protocol] = Field(default=["tuned"], min_length=1)
    official_selection: Selection = "test-oracle"
    official_noise_params: dict[str, Any] = Field(default_factory=dict)
    sweeps: Any = None  # sensitivity sweeps, validated by benchmark.sweeps.spec

    @field_validator("datasets", "methods", mode="before")
    @classmethod
    def _list_to_mapping(cls, value: Any) -> Any:
        """Accept a list of names, and ``name:`` with no value, as ``{name: {}}``."""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = dict.fromkeys(value, None)
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be unique, got {short(seeds)}")
        if any(not 0 <= s <= SEED_MAX for s in seeds):
            raise ValueError(
                f"seeds must satisfy 0 <= seed <= 2**62 (the repeats' seed range), got {short(seeds)}"
            )
        return seeds


@dataclass(frozen=True)
class Cell:
    """One (dataset, noise, rate, method[, selection]) cell, fully resolved."""

    study: str
    dataset: str
    dataset_kwargs: dict[str, Any]
    noise: str
    noise_params: dict[str, Any]
    rate: float
    method: str
    fixed: dict[str, Any]
    space: dict[str, Distribution]
    defaults: dict[str, Any]
    selection: str
    n_trials: int
    task: str
    suffix_selection: bool = False
    max_extra_trials: int | None = None
    protocol: str = "tuned"
    official: bool = False  # paper-official cells: whether the method published values for this cell

    @property
    def cell_id(self) -> str:
        """``{dataset}/{noise}/{rate}/{method}`` (plus ``@{selection}`` when a study has several, and
        ``@paper-official`` for the cells of that protocol)."""
        base = f"{self.dataset}/{self.noise}/{self.rate:g}/{self.method}"
        if self.protocol != "tuned":
            return f"{base}@{self.protocol}"
        return f"{base}@{self.selection}" if self.suffix_selection else base

    @property
    def provides_hardness(self) -> bool:
        """Clean-label CE runs give the per-sample hardness used by the diagnostics of other cells."""
        return self.method == "ce" and self.rate == 0.0

    @property
    def budget(self) -> int:
        """Trials of this cell: the configured budget, or 1 (the defaults) when nothing is searched."""
        return self.n_trials if self.space else 1

    @property
    def extra_cap(self) -> int:
        """Pruned and failed trials this cell may add on top of its budget before it stops tuning."""
        return self.budget if self.max_extra_trials is None else self.max_extra_trials


@dataclass(frozen=True)
class DatasetInfo:
    """What validation needs to know about a dataset without loading it."""

    name: str
    task: str
    num_classes: int | None
    n_train: int | None
    epochs: int | None
    noise_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    present: bool = True
    location: str | None = None
    regression_loss: str = "mse"


@dataclass
class ResolvedStudy:
    """A validated study: its config, the cells in run order and where its outputs go."""

    config: StudyConfig
    cells: list[Cell]
    out: Path
    source: str
    raw: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, DatasetInfo] = field(default_factory=dict)
    sweeps: list[Any] = field(default_factory=list)  # benchmark.sweeps.SweepCell, run after the cells

    @property
    def name(self) -> str:
        return self.config.name


# ---- loading ----------------------------------------------------------------------------------


def load_study(
    name_or_path: str, *, out: str | None = None, protocols: list[str] | None = None
) -> ResolvedStudy:
    """Load, validate and resolve a study file or a packaged preset.

    Args:
        name_or_path: a YAML file path or a preset name (``quick``, ``paper-mnist``, ...).
        out: output folder overriding the file's ``out``.
        protocols: overrides the file's ``protocols`` (``--protocol``).

    Raises:
        StudyConfigError: malformed YAML (with file and line) or any validation problem (one line).
    """
    data, source = read_study_source(name_or_path)
    raw = parse_study_text(data, source)
    if not isinstance(raw, dict):
        raise StudyConfigError(f"{source}: the study file must be a mapping, got {type(raw).__name__}")
    if protocols is not None:
        raw = {**raw, "protocols": list(protocols)}
    return resolve_study(raw, source=source, out=out)


def _pydantic_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden":
            out.append(f"{loc}: unknown key")
        elif err["type"] == "missing":
            out.append(f"{loc}: required key missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            out.append(f"{loc}={short(err.get('input'))}: {msg}")
    return out


# ---- validation -------------------------------------------------------------------------------


def resolve_study(
    raw: Mapping[str, Any], *, source: str = "<study>", out: str | None = None
) -> ResolvedStudy:
    """Validate a parsed study mapping and expand it into cells (see module docstring).

    Raises:
        StudyConfigError: every problem found, joined into one line, each with its key path.
    """
    try:
        config = StudyConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise StudyConfigError(f"{source}: " + "; ".join(_pydantic_errors(exc))) from None
    load_builtin_components()
    errors: list[str] = []
    infos: dict[str, DatasetInfo] = {}
    cells = _build_cells(config, errors, infos)
    from benchmark.sweeps.spec import resolve_sweeps  # imports this module

    sweeps = resolve_sweeps(config.sweeps, config, infos, errors)
    if errors:
        raise StudyConfigError(f"{source}: " + "; ".join(errors))
    folder = Path(out or config.out or Path("results") / config.name)
    return ResolvedStudy(
        config=config,
        cells=_run_order(cells),
        out=folder,
        source=source,
        raw=dict(raw),
        datasets=infos,
        sweeps=sweeps,
    )


def _build_cells(config: StudyConfig, errors: list[str], infos: dict[str, DatasetInfo]) -> list[Cell]:
    for name in config.datasets:
        if name not in DATASETS:
            errors.append(f"datasets.{name}: {DATASETS.unknown_message(name)}")
    for name in config.noises:
        if name not in NOISES:
            errors.append(f"noises.{name}: {NOISES.unknown_message(name)}")
    for name in config.methods:
        if name not in METHODS:
            errors.append(f"methods.{name}: {METHODS.unknown_message(name)}")
    if errors:
        return []
    selections = config.tuning.selections()
    cells: list[Cell] = []
    for dname, dkwargs in config.datasets.items():
        try:
            info = _dataset_info(dname, dkwargs, config.training)
            infos[dname] = info
        except DiscrimBenchError as exc:
            errors.append(f"datasets.{dname}: {exc}")
            continue
        for nname, nspec in config.noises.items():
            for rate in nspec.rates:
                try:
                    _check_noise(nname, rate, nspec.params, info)
                except DiscrimBenchError as exc:
                    errors.append(f"noises.{nname} (dataset {dname}, rate {rate:g}): {exc}")
                    continue
                for mname, mspec in config.methods.items():
                    resolved = _resolve_method(mname, mspec, info, rate, config, errors)
                    if resolved is None:
                        continue
                    space, defaults = resolved
                    if "paper-official" in config.protocols:
                        official = _official_cell(
                            config, dname, dkwargs, nname, nspec, rate, mname, info, errors
                        )
                        cells.extend([official] if official is not None else [])
                    for selection in selections if "tuned" in config.protocols else []:
                        cells.append(
                            Cell(
                                study=config.name,
                                dataset=dname,
                                dataset_kwargs=dict(dkwargs),
                                noise=nname,
                                noise_params=dict(nspec.params),
                                rate=float(rate),
                                method=mname,
                                fixed=dict(mspec.fixed),
                                space=space,
                                defaults=defaults,
                                selection=selection,
                                n_trials=config.tuning.n_trials,
                                task=info.task,
                                suffix_selection=len(selections) > 1,
                                max_extra_trials=config.tuning.max_extra_trials,
                            )
                        )
    # the same message for every dataset/rate is reported once
    errors[:] = list(dict.fromkeys(errors))
    return cells


def _official_cell(
    config: StudyConfig, dataset: str, dkwargs: Mapping[str, Any], noise: str, nspec: NoiseSpec, rate: float,
    method: str, info: DatasetInfo, errors: list[str],
) -> Cell | None:  # fmt: skip
    """The ``paper-official`` cell: the method's official values for it fixed (over the file's ``fixed``),
    nothing searched (one trial: those values), the study's ``official_selection``."""
    cls = METHODS.get(method)
    official = cls.official_params(dataset, noise, float(rate), info.regression_loss) or {}
    fixed = {**config.methods[method].fixed, **official}
    try:
        defaults = dict(cls.make_params(fixed).model_dump())
        _check_noise(noise, rate, {**nspec.params, **config.official_noise_params}, info)
    except DiscrimBenchError as exc:
        errors.append(f"paper-official cell {dataset}/{noise}/{rate:g}/{method}: {exc}")
        return None
    return Cell(
        study=config.name, dataset=dataset, dataset_kwargs=dict(dkwargs), noise=noise,
        noise_params={**nspec.params, **config.official_noise_params}, rate=float(rate), method=method,
        fixed=fixed, space={}, defaults=defaults, selection=config.official_selection, n_trials=1,
        task=info.task, protocol="paper-official", official=bool(official),
    )  # fmt: skip


def _resolve_method(
    name: str, spec: MethodSpec, info: Any, rate: float, config: StudyConfig, errors: list[str]
) -> tuple[dict[str, Distribution], dict[str, Any]] | None:
    from baselines._base import MethodContext

    cls = METHODS.get(name)
    key = f"methods.{name}"
    if info.task not in cls.tasks:
        errors.append(f"{key}: method {name!r} does not support {info.task} (dataset {info.name})")
        return None
    try:
        cls.make_params(spec.fixed)
    except DiscrimBenchError as exc:
        errors.append(f"{key}.fixed: {exc}")
        return None
    ctx = MethodContext(
        task=info.task,
        num_classes=info.num_classes,
        n_train=max(1, int(info.n_train or 1)),
        epochs=int(config.training.epochs or info.epochs or 1),
        noise_rate=rate,
    )
    space: dict[str, Distribution] = dict(cls.search_space(ctx)) if spec.default_space else {}
    for pname, value in spec.search.items():
        try:
            space[pname] = _parse_distribution(value, space.get(pname))
        except ValueError as exc:
            errors.append(f"{key}.search.{pname}={short(value)}: {exc}")
            return None
    for pname in spec.fixed:
        space.pop(pname, None)  # a fixed value wins over the default space
    for pname in spec.search:
        if pname in spec.fixed:
            errors.append(f"{key}: {pname!r} is both fixed and searched; keep one")
            return None
    for pname, dist in space.items():
        for probe in _endpoints(dist):
            try:
                cls.make_params({**spec.fixed, pname: probe})
            except DiscrimBenchError as exc:
                errors.append(f"{key}.search.{pname}: bound {short(probe)} is invalid: {exc}")
                return None
    defaults = dict(cls.make_params(spec.fixed).model_dump())
    return space, defaults


def _endpoints(dist: Distribution) -> list[Any]:
    if isinstance(dist, Choice):
        return list(dist.choices)
    return [dist.low, dist.high]


def _parse_distribution(value: Any, default: Distribution | None) -> Distribution:
    """Turn a study file's search entry into a distribution (narrowing ``default`` when given)."""
    if isinstance(value, dict):
        if "choices" in value:
            if set(value) != {"choices"} or not value["choices"]:
                raise ValueError("a categorical is {choices: [non-empty list]}")
            return Choice(tuple(value["choices"]))
        unknown = set(value) - {"low", "high", "log", "step"}
        if unknown or not {"low", "high"} <= set(value):
            raise ValueError("a range is {low, high[, log][, step]}")
        low, high = _bound(value["low"], "low"), _bound(value["high"], "high")
        if "step" in value:
            _bound(value["step"], "step")
        if "step" in value or (isinstance(low, int) and isinstance(high, int) and not value.get("log")):
            dist: Distribution = IntRange(int(low), int(high), int(value.get("step", 1)))
        else:
            dist = FloatRange(float(low), float(high), bool(value.get("log", False)))
    elif isinstance(value, list) and value:
        if isinstance(default, Choice) or len(value) != 2:
            return Choice(tuple(value))
        low, high = value
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return Choice(tuple(value))
        low, high = _bound(low, "low"), _bound(high, "high")
        if isinstance(default, IntRange) or (default is None and all(isinstance(v, int) for v in value)):
            step = default.step if isinstance(default, IntRange) else 1
            if int(low) != low or int(high) != high:
                raise ValueError("an integer hyperparameter needs integer bounds")
            dist = IntRange(int(low), int(high), step)
        else:
            log = default.log if isinstance(default, FloatRange) else False
            dist = FloatRange(float(low), float(high), log)
    else:
        raise ValueError("expected [low, high], a list of choices, {choices: [...]} or {low, high, log}")
    if isinstance(dist, FloatRange | IntRange):
        if not dist.low <= dist.high:
            raise ValueError(f"low <= high must hold, got low={dist.low}, high={dist.high}")
        if isinstance(dist, FloatRange) and dist.log and dist.low <= 0:
            raise ValueError(f"a log range needs low > 0, got low={dist.low}")
        if isinstance(dist, IntRange) and dist.step < 1:
            raise ValueError(f"step must be >= 1, got {dist.step}")
    return dist


def _bound(value: Any, name: str) -> int | float:
    """A search bound: a finite number, integers within Optuna's 64-bit range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}={short(value)} must be a number")
    if not math.isfinite(value) or abs(value) > SEED_MAX:
        raise ValueError(f"{name}={short(value)} must be finite and within ±2**62")
    return value


def _dataset_info(name: str, kwargs: Mapping[str, Any], training: TrainingSpec) -> DatasetInfo:
    """Task, classes and budget of a dataset from its adapter (never loads data).

    Raises:
        DiscrimBenchError: a bad dataset option, an unavailable recipe kind or an unknown recipe field.
    """
    from benchmark.data._adapter import get_adapter, resolve_data_root

    adapter = get_adapter(name, **dict(kwargs))
    recipe = adapter.recipe(training.recipe_kind)
    try:
        recipe = recipe.override(**training.recipe)
    except TypeError:
        fields = sorted(f for f in type(recipe).__dataclass_fields__)
        unknown = sorted(set(training.recipe) - set(fields))
        raise StudyConfigError(
            f"training.recipe has no field {unknown[0] if unknown else '?'!r}; allowed: {', '.join(fields)}"
        ) from None
    return DatasetInfo(
        name=name,
        task=str(adapter.task),
        num_classes=adapter.num_classes,
        n_train=None,
        epochs=training.epochs or recipe.epochs,
        noise_defaults={k: dict(v) for k, v in adapter.noise_defaults.items()},
        present=adapter.is_present(resolve_data_root(training.data_root)),
        location=None if adapter.embedded else str(adapter.location(resolve_data_root(training.data_root))),
        regression_loss=recipe.regression_loss,
    )


def _check_noise(name: str, rate: float, params: Mapping[str, Any], info: DatasetInfo) -> None:
    generator = NOISES.get(name)
    generator.check(info.task, rate, info.num_classes, info.name)  # type: ignore[attr-defined]
    generator.resolve_params({**info.noise_defaults.get(name, {}), **params})  # type: ignore[attr-defined]


def _run_order(cells: list[Cell]) -> list[Cell]:
    """Hardness providers (clean CE) first, then the file's order (stable)."""
    return sorted(cells, key=lambda c: 0 if c.provides_hardness else 1)
