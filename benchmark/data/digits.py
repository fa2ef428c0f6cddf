"""``digits``: scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), no download.

The test split is fixed (``test_fraction`` of the data, chosen with the constant ``split_seed``, not the
run seed) so every run is evaluated on the same images. Inputs are float32 (N, 1, 8, 8) in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.data._adapter import DatasetAdapter
from benchmark.data._base import RawData, Recipe, Split
from benchmark.errors import HyperparameterError
from benchmark.registry import DATASETS

__all__ = ["Digits", "fixed_test_split"]


def fixed_test_split(n: int, test_fraction: float, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions, each sorted (native order), from a permutation seeded by ``split_seed``."""
    perm = np.random.default_rng(split_seed).permutation(n)
    n_test = round(n * test_fraction)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


@DATASETS.register("digits", summary="scikit-learn 8×8 digits (1,797 images, 10 classes), embedded")
class Digits(DatasetAdapter):
    name = "digits"
    task = "classification"
    num_classes = 10
    source = "scikit-learn load_digits (UCI optical recognition of handwritten digits, test part)"
    licence = "CC BY 4.0 (UCI); BSD-3 (scikit-learn)"
    size = "1,797 images 8×8 (1,438 train pool / 359 test)"
    embedded = True
    defaults: ClassVar[dict[str, Any]] = {"test_fraction": 0.2, "split_seed": 0}

    def validate(self) -> None:
        frac = self.kwargs["test_fraction"]
        if not isinstance(frac, int | float) or not 0.0 < frac < 1.0:
            raise HyperparameterError(
                f"dataset 'digits' option test_fraction={frac!r} is not allowed; need 0 < test_fraction < 1"
            )
        self._int_option("split_seed", 0)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, 8, 8)

    def fast_recipe(self) -> Recipe:
        # docs/recipes.md: the MNIST protocol's SGD (lr 0.1, momentum 0.9, wd 5e-4) with a batch that gives
        # an epoch >= 40 steps (1,294 training images / 32); batch 128 left DiscrimLoss's σ at the clamp.
        # 40 epochs: the smallest budget where all five methods plateau on clean data by mid-run.
        return Recipe(
            model="mlp", optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, epochs=40, batch_size=32
        )

    def load(self, root: Path, download: bool = False) -> RawData:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1)
        y = torch.from_numpy(bunch.target.astype(np.int64))
        train, test = fixed_test_split(len(y), float(self.kwargs["test_fraction"]), self.kwargs["split_seed"])
        tr, te = torch.from_numpy(train), torch.from_numpy(test)
        return RawData(train=Split(x[tr], y[tr]), test=Split(x[te], y[te]))
