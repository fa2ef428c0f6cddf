"""Study files: the YAML schema, loading (files and packaged presets) and validation into cells.

A study file holds only registry names and parameters (read by :mod:`benchmark.study_reader`: no tags, no
aliases, no duplicate keys, bounded size, depth and integers)::

    name: my-study
    datasets: {digits: {}, mnist1d: {n_train: 2000}}     # or a list of names
    noises: {sym-excl: {rates: [0, 0.2, 0.4], params: {}}}
    methods:                                            # or a list of names
      ce: {}
      discrimloss: {search: {a: [0.2, 0.35]}, fixed: {sup_eps: 3}}
      gce: {preset: truncated, q: 0.6}                  # a method preset, one field overridden
      discrimloss-no-es: {method: discrimloss, preset: ablation-no-es}   # the same method, another label
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

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmark.cells import Cell, DatasetInfo
from benchmark.config_methods import (
    MethodEntry,
    check_method_entries,
    official_cell_values,
    resolve_method_entry,
)
from benchmark.config_schema import (
    PROTOCOL_NOTES,
    SEED_MAX,
    SELECTION_SERIES,
    MethodSpec,
    NoiseSpec,
    StorageSpec,
    StudyConfig,
    TrainingSpec,
    TuningSpec,
    pydantic_errors,
)
from benchmark.errors import DiscrimBenchError, StudyConfigError
from benchmark.registry import DATASETS, NOISES, load_builtin_components
from benchmark.study_reader import parse_study_text, preset_names, read_study_source
from benchmark.sweeps.spec import SweepCell, resolve_sweeps

__all__ = [
    "PROTOCOL_NOTES",
    "SEED_MAX",
    "SELECTION_SERIES",
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


@dataclass
class ResolvedStudy:
    """A validated study: its config, the cells in run order and where its outputs go."""

    config: StudyConfig
    cells: list[Cell]
    out: Path
    source: str
    raw: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, DatasetInfo] = field(default_factory=dict)
    sweeps: list[SweepCell] = field(default_factory=list)  # sensitivity sweeps, run after the cells

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
        raise StudyConfigError(f"{source}: " + "; ".join(pydantic_errors(exc))) from None
    load_builtin_components()
    errors: list[str] = []
    infos: dict[str, DatasetInfo] = {}
    cells = _build_cells(config, errors, infos)
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
    check_method_entries(config.methods, errors)
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
                for label, mspec in config.methods.items():
                    epochs = int(config.training.epochs or info.epochs or 1)
                    entry = resolve_method_entry(label, mspec, info, epochs, rate, errors)
                    if entry is None:
                        continue
                    if "paper-official" in config.protocols:
                        official = _official_cell(
                            config, dname, dkwargs, nname, nspec, rate, entry, info, errors
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
                                method=entry.method,
                                fixed=dict(entry.fixed),
                                space=entry.space,
                                defaults=entry.defaults,
                                selection=selection,
                                n_trials=config.tuning.n_trials,
                                task=info.task,
                                suffix_selection=len(selections) > 1,
                                max_extra_trials=config.tuning.max_extra_trials,
                                label=entry.label,
                            )
                        )
    # the same message for every dataset/rate is reported once
    errors[:] = list(dict.fromkeys(errors))
    return cells


def _official_cell(
    config: StudyConfig, dataset: str, dkwargs: Mapping[str, Any], noise: str, nspec: NoiseSpec, rate: float,
    entry: MethodEntry, info: DatasetInfo, errors: list[str],
) -> Cell | None:  # fmt: skip
    """The ``paper-official`` cell: the method's official values for it fixed (over the entry's fixed
    values), nothing searched (one trial: those values), the study's ``official_selection``."""
    spec = config.methods[entry.label]
    try:
        fixed, defaults, official = official_cell_values(
            entry.label, spec, dataset, noise, float(rate), info.regression_loss
        )
        _check_noise(noise, rate, {**nspec.params, **config.official_noise_params}, info)
    except DiscrimBenchError as exc:
        errors.append(f"paper-official cell {dataset}/{noise}/{rate:g}/{entry.label}: {exc}")
        return None
    return Cell(
        study=config.name, dataset=dataset, dataset_kwargs=dict(dkwargs), noise=noise,
        noise_params={**nspec.params, **config.official_noise_params}, rate=float(rate), method=entry.method,
        fixed=fixed, space={}, defaults=defaults, selection=config.official_selection, n_trials=1,
        task=info.task, protocol="paper-official", official=official, label=entry.label,
    )  # fmt: skip


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
    generator.check(info.task, rate, info.num_classes, info.name)
    generator.resolve_params({**info.noise_defaults.get(name, {}), **params})


def _run_order(cells: list[Cell]) -> list[Cell]:
    """Hardness providers (clean CE) first, then the file's order (stable)."""
    return sorted(cells, key=lambda c: 0 if c.provides_hardness else 1)
