"""Dataset adapters and label-noise generators (importing this registers them).

The engine calls :func:`prepare`; ``discrimbench data describe`` uses :func:`get_adapter`.
"""

from __future__ import annotations

from benchmark.data import (  # noqa: F401  (each module registers its dataset)
    cifarn,
    clothing1m,
    digits,
    digitsum,
    mnist1d,
    noise,
    synthetic_hard,
    torchvision_sets,
    utkface,
    wikihow,
)
from benchmark.data._adapter import DATA_ENV, DatasetAdapter, get_adapter, resolve_data_root
from benchmark.data._base import NoiseResult, PreparedData, RawData, Recipe, Split, Task
from benchmark.data._prepare import clear_cache, labels_sha256, load_raw, prepare, stratified_holdout
from benchmark.data.noise import NoiseContext, NoiseGenerator

__all__ = [
    "DATA_ENV",
    "DatasetAdapter",
    "NoiseContext",
    "NoiseGenerator",
    "NoiseResult",
    "PreparedData",
    "RawData",
    "Recipe",
    "Split",
    "Task",
    "clear_cache",
    "get_adapter",
    "labels_sha256",
    "load_raw",
    "prepare",
    "resolve_data_root",
    "stratified_holdout",
]
