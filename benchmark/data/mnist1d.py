"""``mnist1d``: MNIST-1D (Greydanus 2020), generated procedurally with the ``mnist1d`` package, offline.

The package's generator seeds Python's and NumPy's *global* RNGs; we save and restore both so that
building the data never shifts anyone else's random numbers. ``seed`` here is the data-generation seed
(the package default 42 gives the canonical data set), not the run seed. Inputs float32 (N, 1, 40).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.data._adapter import DatasetAdapter
from benchmark.data._base import RawData, Recipe, Split
from benchmark.errors import HyperparameterError
from benchmark.registry import DATASETS

__all__ = ["MNIST1D"]


@DATASETS.register(
    "mnist1d", summary="MNIST-1D, generated offline (default 4,000 train / 1,000 test, length 40)"
)
class MNIST1D(DatasetAdapter):
    name = "mnist1d"
    task = "classification"
    num_classes = 10
    source = "mnist1d package (Greydanus 2020), procedurally generated"
    licence = "Apache-2.0 (mnist1d)"
    size = "num_samples (default 5,000) × 40, split train_split (0.8) / rest"
    embedded = True
    defaults: ClassVar[dict[str, Any]] = {"num_samples": 5000, "train_split": 0.8, "seed": 42}

    def validate(self) -> None:
        self._int_option("num_samples", 20)
        self._int_option("seed", 0)
        frac = self.kwargs["train_split"]
        if not isinstance(frac, int | float) or not 0.0 < frac < 1.0:
            raise HyperparameterError(
                f"dataset 'mnist1d' option train_split={frac!r} is not allowed; need 0 < train_split < 1"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, 40)

    def fast_recipe(self) -> Recipe:
        # docs/recipes.md: the MNIST-1D paper's Adam lr 1e-2 (lr 1e-3 left the CNN at 36-39 % in the quick
        # study); batch 64 gives an epoch of >= 40 steps on the default 3,600 training samples; 30 epochs: the
        # smallest budget where all five methods plateau on clean data by mid-run.
        return Recipe(
            model="cnn1d", optimizer="adam", lr=1e-2, momentum=0.0, weight_decay=0.0, epochs=30, batch_size=64
        )

    def load(self, root: Path, download: bool = False) -> RawData:
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples = self.kwargs["num_samples"]
        args.train_split = float(self.kwargs["train_split"])
        args.seed = self.kwargs["seed"]
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            data = make_dataset(args)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)

        def split(x: np.ndarray, y: np.ndarray) -> Split:
            return Split(
                torch.from_numpy(x.astype(np.float32)).unsqueeze(1), torch.from_numpy(y.astype(np.int64))
            )

        return RawData(train=split(data["x"], data["y"]), test=split(data["x_test"], data["y_test"]))
