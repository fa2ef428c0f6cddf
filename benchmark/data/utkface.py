"""``utkface``: age regression on UTKFace "aligned & cropped" faces (spec c.3).

Files ``<root>/utkface/UTKFace/<age>_<gender>_<race>_<date>.jpg[.chip.jpg]`` (the official archive's
folder; files directly in ``<root>/utkface/`` are accepted too). Paths are **sorted** (the paper's
``glob`` order is filesystem-dependent, spec b.1), then split 90/10 into train/test with the fixed
``split_seed`` (not the run seed, so the test set never changes). Target = age (float32). Images load
lazily, resized to ``image_size`` (``in_memory=True`` reads them all at load time).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.data._adapter import DatasetAdapter
from benchmark.data._base import RawData, Recipe, Split
from benchmark.data._files import ImageFiles, missing
from benchmark.data.digits import fixed_test_split
from benchmark.registry import DATASETS

__all__ = ["UTKFace"]

_NAME = re.compile(r"^(\d+)_.*\.jpg$", re.IGNORECASE)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@DATASETS.register("utkface", summary="UTKFace aligned & cropped faces, age regression (23,708 images)")
class UTKFace(DatasetAdapter):
    name = "utkface"
    task = "regression"
    lazy_inputs = True
    source = "https://susanqq.github.io/UTKFace/ (UTKFace.tar.gz, 'Aligned&Cropped Faces')"
    licence = "non-commercial research only (UTKFace terms)"
    size = "23,708 images, ages 0-116; 90/10 train/test"
    defaults: ClassVar[dict[str, Any]] = {
        "image_size": 64,
        "test_fraction": 0.1,
        "split_seed": 0,
        "in_memory": False,
    }

    def validate(self) -> None:
        self._int_option("image_size", 8, 1024)
        self._int_option("split_seed", 0)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, self.kwargs["image_size"], self.kwargs["image_size"])

    @property
    def target_range(self) -> tuple[float, float]:
        return (0.0, 116.0)

    def image_folder(self, root: Path) -> Path:
        nested = self.location(root) / "UTKFace"
        return nested if nested.is_dir() else self.location(root)

    def required_files(self, root: Path) -> list[Path]:
        return [self.location(root) / "UTKFace"]

    def is_present(self, root: Path) -> bool:
        folder = self.image_folder(root)
        return folder.is_dir() and any(_NAME.match(p.name) for p in folder.iterdir())

    def fast_recipe(self) -> Recipe:
        return Recipe(
            model="small-cnn",
            lr=0.01,
            epochs=15,
            regression_loss="smooth_l1",
            augment="crop-flip",
            normalize_mean=IMAGENET_MEAN,
            normalize_std=IMAGENET_STD,
        )

    def paper_recipe(self) -> Recipe:
        # spec c.3 ("L1" variant): ResNet-18, smooth-L1, SGD 0.1 / 0.9, no wd, batch 128, 100 epochs,
        # saw-tooth exponential lr (×e^-0.01 per iteration, reset each epoch). The paper's
        # RandomResizedCrop(128) is approximated by crop-flip; use image_size=128.
        return Recipe(
            model="resnet18",
            lr=0.1,
            momentum=0.9,
            weight_decay=0.0,
            schedule="sawtooth-exp",
            gamma=math.exp(-0.01),
            epochs=100,
            batch_size=128,
            regression_loss="smooth_l1",
            augment="crop-flip",
            normalize_mean=IMAGENET_MEAN,
            normalize_std=IMAGENET_STD,
        )

    def load(self, root: Path, download: bool = False) -> RawData:
        folder = self.image_folder(root)
        if not self.is_present(root):
            raise missing(
                self.name,
                "images <age>_<gender>_<race>_<date>.jpg",
                self.location(root) / "UTKFace",
                f"download UTKFace.tar.gz from {self.source.split()[0]} and extract it there (no --download)",
            )
        paths = sorted(p for p in folder.iterdir() if _NAME.match(p.name))
        ages = np.array([float(_NAME.match(p.name).group(1)) for p in paths], dtype=np.float32)  # type: ignore[union-attr]
        train, test = fixed_test_split(
            len(paths), float(self.kwargs["test_fraction"]), self.kwargs["split_seed"]
        )
        size = int(self.kwargs["image_size"])

        def split(idx: np.ndarray) -> Split:
            images = ImageFiles([paths[i] for i in idx], size)
            x = images.materialise() if self.kwargs["in_memory"] else images
            return Split(x, torch.from_numpy(ages[idx]))

        return RawData(train=split(train), test=split(test))
