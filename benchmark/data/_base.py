"""Data types shared by dataset adapters, noise generators and the training engine.

Flow: a dataset adapter loads :class:`RawData` (clean targets, native order); a noise generator turns the
clean training-pool targets into a :class:`NoiseResult`; :func:`benchmark.data.prepare` splits the noisy pool
into train / validation (validation keeps the same noise) and returns :class:`PreparedData`, which is all the
engine sees. The test split is never touched by noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

__all__ = ["NoiseResult", "PreparedData", "RawData", "Recipe", "Split", "Task"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Recipe:
    """How to train on a dataset: model, optimiser, schedule, budget, pre-processing.

    Every field can be overridden from a run spec (``--set recipe.lr=0.01``) via :meth:`override`.

    Attributes:
        model: name in the MODELS registry; ``model_kwargs`` are passed to its factory.
        optimizer: "sgd", "adam" or "adamw".
        schedule: "constant"; "step" (×``gamma`` at each of ``milestones``, epochs); "sawtooth-exp"
            (UTKFace: every epoch restarts at lr and decays by ``gamma`` per iteration); "linear"
            (linear decay to 0 over the run, per iteration); "coteaching" (Adam: lr decays linearly to 0
            from epoch ``milestones[0]`` and β1 switches to 0.1).
        regression_loss: "mse" or "smooth_l1" (only read for regression tasks).
        augment: "none" or "crop-flip" (random crop with ``crop_padding`` and horizontal flip, on device).
        normalize_mean / normalize_std: per-channel statistics applied on the device, or None.
    """

    model: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    schedule: Literal["constant", "step", "sawtooth-exp", "linear", "coteaching"] = "constant"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 1024
    regression_loss: Literal["mse", "smooth_l1"] = "mse"
    augment: Literal["none", "crop-flip"] = "none"
    crop_padding: int = 4
    normalize_mean: tuple[float, ...] | None = None
    normalize_std: tuple[float, ...] | None = None
    grad_clip: float | None = None

    def override(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` applied (names are checked by ``dataclasses.replace``)."""
        return replace(self, **changes)


@dataclass
class Split:
    """One split of a dataset.

    Attributes:
        x: inputs, a tensor with the samples on dim 0 (images as uint8 N×C×H×W or float), or a
            ``torch.utils.data.Dataset`` returning one input tensor per index for large image sets.
        y: (N,) clean targets: int64 classes or float32 regression targets.
        hardness: optional (N,) float, larger = harder (known only for synthetic data).
    """

    x: Any
    y: torch.Tensor
    hardness: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class RawData:
    """What a dataset adapter loads: a training pool in native order, an optional official
    validation split, and a test split. Targets are clean unless the dataset ships only noisy
    labels (``noisy_train_y`` then holds the shipped labels and the ``real`` noise uses them).
    ``noisy_val_y`` holds the shipped labels of an official validation split (for Clothing1M these are
    its clean validation labels, so ``real`` leaves that split clean)."""

    train: Split
    test: Split
    val: Split | None = None
    noisy_train_y: torch.Tensor | None = None
    noisy_val_y: torch.Tensor | None = None


@dataclass(frozen=True)
class NoiseResult:
    """The output of a noise generator, a pure function of (clean targets, rate, seed, params).

    Attributes:
        noisy: (N,) noisy targets, same dtype as the clean ones.
        mask: (N,) bool, True where the noisy target differs from the clean one (for regression:
            where the generator changed the target).
        realised_rate: mask.mean().
        transition: (C, C) row-stochastic empirical matrix P(noisy=j | clean=i) for classification
            (rows of absent classes are zero), None for regression.
    """

    noisy: np.ndarray
    mask: np.ndarray
    realised_rate: float
    transition: np.ndarray | None = None


@dataclass
class PreparedData:
    """Everything the engine needs for one run, decided before training starts.

    ``train.y`` / ``val.y`` are the **noisy** targets; the clean ones are kept in ``train_clean_y`` /
    ``val_clean_y`` for diagnostics only (the method never sees them). ``train_mask`` marks corrupted
    training samples.
    """

    name: str
    task: Task
    num_classes: int | None
    train: Split
    val: Split
    test: Split
    train_clean_y: torch.Tensor
    val_clean_y: torch.Tensor
    train_mask: torch.Tensor
    val_mask: torch.Tensor
    noise_name: str
    noise_rate: float
    realised_rate: float
    transition: np.ndarray | None
    noisy_labels_sha256: str
    recipe: Recipe
    input_shape: tuple[int, ...]
    target_range: tuple[float, float] | None = None
    target_scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)
