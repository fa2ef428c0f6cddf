"""``synthetic-hard``: Gaussian class clusters with a known per-sample hardness.

Class means are ``separation`` × random unit vectors in ``dim`` dimensions; each sample is its class
mean plus N(0, I), classes equally likely. The Bayes posterior p(c | x) ∝ exp(−‖x − μ_c‖²/2) is known,
so hardness = 1 − (p₍₁₎ − p₍₂₎): 0 far from the Bayes boundary, 1 on it. This lets diagnostics separate
corrupted samples from *hard clean* ones (DiscrimLoss's claim). The data depend only on the options
(``seed`` is the data seed, not the run seed).
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

__all__ = ["SyntheticHard", "bayes_hardness"]


def bayes_hardness(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """(N,) 1 − (top-1 − top-2 Bayes posterior) for unit-covariance, equal-prior Gaussian classes."""
    logits = -0.5 * ((x[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    logits -= logits.max(axis=1, keepdims=True)
    post = np.exp(logits)
    post /= post.sum(axis=1, keepdims=True)
    top2 = np.sort(post, axis=1)[:, -2:]
    return np.asarray(1.0 - (top2[:, 1] - top2[:, 0]))


@DATASETS.register(
    "synthetic-hard", summary="Gaussian class clusters with known Bayes hardness per sample, generated"
)
class SyntheticHard(DatasetAdapter):
    name = "synthetic-hard"
    task = "classification"
    source = "generated (Gaussian clusters; hardness from the Bayes posterior)"
    licence = "generated here (MIT, with the project)"
    size = "n_train / n_test (default 2,000 / 1,000) × dim (default 10)"
    embedded = True
    defaults: ClassVar[dict[str, Any]] = {
        "n_train": 2000,
        "n_test": 1000,
        "n_classes": 4,
        "dim": 10,
        "separation": 3.0,
        "seed": 0,
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.num_classes = int(self.kwargs["n_classes"])  # type: ignore[misc]

    def validate(self) -> None:
        self._int_option("n_train", 10)
        self._int_option("n_test", 1)
        self._int_option("n_classes", 2, 1000)
        self._int_option("dim", 1)
        self._int_option("seed", 0)
        sep = self.kwargs["separation"]
        if not isinstance(sep, int | float) or not sep > 0:
            raise HyperparameterError(
                f"dataset 'synthetic-hard' option separation={sep!r} is not allowed; need separation > 0"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (int(self.kwargs["dim"]),)

    def fast_recipe(self) -> Recipe:
        # docs/recipes.md: as digits, SGD lr 0.1 with a batch giving an epoch of >= 40 steps (1,800 / 32).
        return Recipe(
            model="mlp", optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, epochs=20, batch_size=32
        )

    def load(self, root: Path, download: bool = False) -> RawData:
        k = self.kwargs
        rng = np.random.default_rng(k["seed"])
        c, d = int(k["n_classes"]), int(k["dim"])
        directions = rng.standard_normal((c, d))
        means = float(k["separation"]) * directions / np.linalg.norm(directions, axis=1, keepdims=True)

        def draw(n: int) -> Split:
            y = rng.integers(0, c, size=n)
            x = means[y] + rng.standard_normal((n, d))
            hard = bayes_hardness(x, means)
            return Split(
                torch.from_numpy(x.astype(np.float32)),
                torch.from_numpy(y.astype(np.int64)),
                torch.from_numpy(hard.astype(np.float32)),
            )

        train = draw(int(k["n_train"]))
        return RawData(train=train, test=draw(int(k["n_test"])))
