"""``prepare()``: raw data + noise + validation split → :class:`PreparedData` (what the engine sees).

Order, fixed so that the noise realisation depends only on (dataset, options, noise, rate, seed, params):

1. load the clean data (cached per process, keyed by dataset name, options and data root);
2. noise the whole training pool in native order with the ``noise`` stream of ``seed_streams(seed)``
   (an official validation split is noised next, with the same generator and stream);
3. hold out the validation split with the ``split`` stream, stratified on the clean labels for
   classification, unless the dataset has an official one;
4. the test split is never noised.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from benchmark.data._adapter import DatasetAdapter, get_adapter, resolve_data_root
from benchmark.data._base import NoiseResult, PreparedData, RawData, Split
from benchmark.data.noise._base import NoiseContext, NoiseGenerator, empirical_transition
from benchmark.errors import HyperparameterError
from benchmark.registry import NOISES
from benchmark.seeding import seed_streams

__all__ = ["clear_cache", "labels_sha256", "load_raw", "prepare", "stratified_holdout"]

_CACHE_SIZE = 4
_RAW_CACHE: OrderedDict[tuple[Any, ...], RawData] = OrderedDict()


def clear_cache() -> None:
    """Forget every cached dataset (tests and long-lived workers switching datasets)."""
    _RAW_CACHE.clear()


def load_raw(adapter: DatasetAdapter, data_root: str | None = None, download: bool = False) -> RawData:
    """Load ``adapter``'s data through the per-process cache (a study does not rebuild it per run)."""
    root = resolve_data_root(data_root)
    key = adapter.cache_key(root)
    if key in _RAW_CACHE:
        _RAW_CACHE.move_to_end(key)
        return _RAW_CACHE[key]
    raw = adapter.load(root, download=download)
    _RAW_CACHE[key] = raw
    while len(_RAW_CACHE) > _CACHE_SIZE:
        _RAW_CACHE.popitem(last=False)
    return raw


def stratified_holdout(
    y: np.ndarray, fraction: float, rng: np.random.Generator, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Split positions 0..N-1 into (train, val), both sorted, with round(N·fraction) validation samples.

    With ``stratify`` each class gets its share (largest-remainder rounding, ties to the lower class),
    drawn at random inside the class.
    """
    n = y.shape[0]
    n_val = min(max(round(n * fraction), 1), n - 1)
    if not stratify:
        val = np.sort(rng.permutation(n)[:n_val])
    else:
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        quota = counts * (n_val / n)
        take = np.floor(quota).astype(np.int64)
        short = n_val - int(take.sum())
        order = np.lexsort((np.arange(classes.size), -(quota - take)))
        take[order[:short]] += 1
        parts = [rng.permutation(np.flatnonzero(inverse == k))[: take[k]] for k in range(classes.size)]
        val = np.sort(np.concatenate(parts))
    is_val = np.zeros(n, dtype=bool)
    is_val[val] = True
    return np.flatnonzero(~is_val), val


def labels_sha256(*arrays: np.ndarray) -> str:
    """sha256 of the targets' little-endian bytes (int64 classes, float32 regression), in order."""
    digest = hashlib.sha256()
    for arr in arrays:
        dtype = np.dtype("<i8") if np.issubdtype(arr.dtype, np.integer) else np.dtype("<f4")
        digest.update(np.ascontiguousarray(arr, dtype=dtype).tobytes())
    return digest.hexdigest()


def _as_numpy_inputs(x: Any) -> np.ndarray | None:
    return x.numpy() if isinstance(x, torch.Tensor) else None


def _take(x: Any, idx: np.ndarray) -> Any:
    if isinstance(x, torch.Tensor):
        return x[torch.from_numpy(idx)]
    if isinstance(x, Dataset):
        return Subset(x, idx.tolist())
    raise TypeError(f"Split.x must be a tensor or a Dataset, got {type(x).__name__}")


def _split(split: Split, idx: np.ndarray, y: torch.Tensor) -> Split:
    hardness = None if split.hardness is None else split.hardness[torch.from_numpy(idx)]
    return Split(_take(split.x, idx), y[torch.from_numpy(idx)], hardness)


def _noise(
    gen: NoiseGenerator,
    adapter: DatasetAdapter,
    split: Split,
    shipped: torch.Tensor | None,
    rate: float,
    rng: np.random.Generator,
    params: Mapping[str, Any],
    seed: int,
) -> NoiseResult:
    ctx = NoiseContext(
        task=adapter.task,
        num_classes=adapter.num_classes,
        x=_as_numpy_inputs(split.x) if gen.needs_inputs else None,
        shipped=None if shipped is None else shipped.numpy(),
        dataset=adapter.name,
        seed=seed,
    )
    return gen.apply(split.y.numpy(), rate, rng, ctx, params)


def prepare(
    dataset: str,
    noise: str,
    rate: float,
    seed: int,
    *,
    noise_params: Mapping[str, Any] | None = None,
    dataset_kwargs: Mapping[str, Any] | None = None,
    val_fraction: float = 0.1,
    data_root: str | None = None,
    recipe_kind: Literal["fast", "paper"] = "fast",
    download: bool = False,
) -> PreparedData:
    """Load ``dataset``, apply ``noise`` at ``rate`` with ``seed``, split off validation.

    Returns:
        PreparedData with noisy train/val targets, clean copies, masks, the realised rate and empirical
        transition matrix over train+val, and the sha256 of the noisy train+val targets in native
        order (independent of the split). Tensors are on the CPU.

    Raises:
        UnknownComponentError: unknown dataset or noise name.
        NoiseGenerationError: the noise cannot realise ``rate`` on this dataset, or bad noise params.
        HyperparameterError: bad dataset option, ``val_fraction`` or ``seed``.
        StudyConfigError: ``recipe_kind='paper'`` for a dataset without a paper recipe.
        DataMissingError / DataCorruptError: real dataset files missing or unreadable.
    """
    adapter = get_adapter(dataset, **dict(dataset_kwargs or {}))
    gen: NoiseGenerator = NOISES.get(noise)
    gen.check(adapter.task, rate, adapter.num_classes, adapter.name)
    params = {**adapter.noise_defaults.get(noise, {}), **dict(noise_params or {})}
    gen.resolve_params(params)
    if not adapter.official_val and not (
        isinstance(val_fraction, int | float) and 0.0 < val_fraction < 1.0 and math.isfinite(val_fraction)
    ):
        raise HyperparameterError(f"val_fraction must satisfy 0 < val_fraction < 1, got {val_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise HyperparameterError(f"seed must be a non-negative integer, got seed={seed!r}")
    recipe = adapter.recipe(recipe_kind)
    raw = load_raw(adapter, data_root, download)

    streams = seed_streams(seed)
    rng = streams.numpy("noise")
    pool = _noise(gen, adapter, raw.train, raw.noisy_train_y, rate, rng, params, seed)
    noisy_pool = torch.from_numpy(np.ascontiguousarray(pool.noisy))
    mask_pool = torch.from_numpy(pool.mask)

    if raw.val is not None:
        val_res = _noise(gen, adapter, raw.val, raw.noisy_val_y, rate, rng, params, seed)
        all_train = np.arange(len(raw.train))
        train = _split(raw.train, all_train, noisy_pool)
        val = Split(raw.val.x, torch.from_numpy(np.ascontiguousarray(val_res.noisy)), raw.val.hardness)
        train_clean, val_clean = raw.train.y, raw.val.y
        train_mask, val_mask = mask_pool, torch.from_numpy(val_res.mask)
        clean_all = np.concatenate([raw.train.y.numpy(), raw.val.y.numpy()])
        noisy_all = np.concatenate([pool.noisy, val_res.noisy])
        mask_all = np.concatenate([pool.mask, val_res.mask])
        train_idx, val_idx = all_train, np.arange(len(raw.val))
    else:
        stratify = adapter.task == "classification"
        train_idx, val_idx = stratified_holdout(
            raw.train.y.numpy(), float(val_fraction), streams.numpy("split"), stratify
        )
        train, val = _split(raw.train, train_idx, noisy_pool), _split(raw.train, val_idx, noisy_pool)
        idx_t, idx_v = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
        train_clean, val_clean = raw.train.y[idx_t], raw.train.y[idx_v]
        train_mask, val_mask = mask_pool[idx_t], mask_pool[idx_v]
        clean_all, noisy_all, mask_all = raw.train.y.numpy(), pool.noisy, pool.mask

    transition = None
    if adapter.task == "classification":
        assert adapter.num_classes is not None
        transition = empirical_transition(clean_all, noisy_all, adapter.num_classes)
    return PreparedData(
        name=adapter.name,
        task=adapter.task,
        num_classes=adapter.num_classes,
        train=train,
        val=val,
        test=raw.test,
        train_clean_y=train_clean,
        val_clean_y=val_clean,
        train_mask=train_mask,
        val_mask=val_mask,
        noise_name=noise,
        noise_rate=float(rate),
        realised_rate=float(mask_all.mean()) if mask_all.size else 0.0,
        transition=transition,
        noisy_labels_sha256=labels_sha256(noisy_all),
        recipe=recipe,
        input_shape=adapter.input_shape,
        target_range=adapter.target_range,
        target_scale=adapter.target_scale,
        extra={
            "train_index": train_idx,
            "val_index": val_idx,
            "official_val": raw.val is not None,
            "noise_params": params,
            "dataset_kwargs": dict(adapter.kwargs),
        },
    )
