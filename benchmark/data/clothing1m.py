"""``clothing1m``: real-noise clothing classification, 14 classes (Xiao et al. 2015; spec c.6).

Layout under ``<root>/clothing1m/``: the official ``annotations/`` files (``noisy_label_kv.txt``,
``clean_label_kv.txt``, ``noisy_train_key_list.txt``, ``clean_val_key_list.txt``,
``clean_test_key_list.txt``; the same files directly in the folder are accepted too) and the extracted
``images/`` tree the keys point to (``images/0/00/xyz.jpg``). Train = the noisy-train keys with their
noisy labels (the ``real`` noise); validation = clean val; test = clean test. Images load lazily.

Clean labels are known for only a few training images, so ``train.y`` holds the clean label where known
and the noisy one elsewhere: the recorded realised rate is a lower bound. ``per_class`` draws the paper's
balanced subset (18,976 per class) with the fixed ``balance_seed`` (the paper redraws it per run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.data._adapter import DatasetAdapter
from benchmark.data._base import RawData, Recipe, Split
from benchmark.data._files import ImageFiles, first_existing, missing
from benchmark.errors import DataCorruptError, HyperparameterError
from benchmark.registry import DATASETS

__all__ = ["Clothing1M", "read_key_list", "read_label_kv"]

FILES = (
    "noisy_label_kv.txt",
    "clean_label_kv.txt",
    "noisy_train_key_list.txt",
    "clean_val_key_list.txt",
    "clean_test_key_list.txt",
)
MEAN, STD = (0.6959, 0.6537, 0.6371), (0.3113, 0.3192, 0.3214)


def read_label_kv(path: Path, num_classes: int = 14) -> dict[str, int]:
    """``key label`` lines → dict; a malformed line raises DataCorruptError with its number."""
    out: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or not 0 <= int(parts[1]) < num_classes:
            raise DataCorruptError(
                f"cannot read {path} line {number}: expected '<key> <label 0-13>', got {line!r}"
            )
        out[parts[0]] = int(parts[1])
    return out


def read_key_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@DATASETS.register(
    "clothing1m", summary="Clothing1M real-noise clothing images, 14 classes (use noise 'real')"
)
class Clothing1M(DatasetAdapter):
    name = "clothing1m"
    task = "classification"
    lazy_inputs = True
    ships_noisy_labels = True
    num_classes = 14
    source = "https://github.com/Cysu/noisy_label (request access from the authors)"
    licence = "research use on request from the authors (no open licence)"
    size = "1,037,497 noisy train / 14,313 clean val / 10,526 clean test"
    official_val = True
    defaults: ClassVar[dict[str, Any]] = {"image_size": 224, "per_class": None, "balance_seed": 0}

    def validate(self) -> None:
        self._int_option("image_size", 8, 1024)
        self._int_option("balance_seed", 0)
        per_class = self.kwargs["per_class"]
        if per_class is not None and (not isinstance(per_class, int) or per_class < 1):
            raise HyperparameterError(
                f"dataset 'clothing1m' option per_class={per_class!r} is not allowed; "
                "need None or an integer >= 1"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, self.kwargs["image_size"], self.kwargs["image_size"])

    def annotation(self, root: Path, name: str) -> Path:
        loc = self.location(root)
        found = first_existing([loc / "annotations" / name, loc / name])
        return found or loc / "annotations" / name

    def required_files(self, root: Path) -> list[Path]:
        return [self.annotation(root, f) for f in FILES]

    def fast_recipe(self) -> Recipe:
        return Recipe(
            model="resnet18", lr=1e-3, weight_decay=1e-3, epochs=5, batch_size=64,
            augment="crop-flip", normalize_mean=MEAN, normalize_std=STD,
        )  # fmt: skip

    def paper_recipe(self) -> Recipe:
        # spec c.6: ResNet-50 (ImageNet weights), SGD 1e-3 / 0.9 / 1e-3, batch 32, 10 epochs, ×0.1 from 5.
        return Recipe(
            model="resnet50", lr=1e-3, momentum=0.9, weight_decay=1e-3, schedule="step", milestones=(5,),
            gamma=0.1, epochs=10, batch_size=32, eval_batch_size=128, augment="crop-flip",
            normalize_mean=MEAN, normalize_std=STD,
        )  # fmt: skip

    def load(self, root: Path, download: bool = False) -> RawData:
        for name, path in zip(FILES, self.required_files(root), strict=True):
            if not path.exists():
                raise missing(
                    self.name,
                    f"annotation file {name}",
                    path,
                    f"request Clothing1M via {self.source.split()[0]}",
                )
        files = dict(zip(FILES, self.required_files(root), strict=True))
        noisy_kv = read_label_kv(files["noisy_label_kv.txt"])
        clean_kv = read_label_kv(files["clean_label_kv.txt"])
        loc, size = self.location(root), int(self.kwargs["image_size"])

        def labelled(list_name: str, table: dict[str, int]) -> tuple[list[str], np.ndarray]:
            keys = read_key_list(files[list_name])
            absent = next((k for k in keys if k not in table), None)
            if absent is not None:
                raise DataCorruptError(f"{files[list_name]}: key {absent!r} has no label in the label file")
            return keys, np.array([table[k] for k in keys], dtype=np.int64)

        train_keys, noisy = labelled("noisy_train_key_list.txt", noisy_kv)
        if self.kwargs["per_class"] is not None:
            rng = np.random.default_rng(self.kwargs["balance_seed"])
            keep = np.sort(
                np.concatenate(
                    [
                        rng.permutation(np.flatnonzero(noisy == c))[: self.kwargs["per_class"]]
                        for c in range(14)
                    ]
                )
            )
            train_keys, noisy = [train_keys[i] for i in keep], noisy[keep]
        best = np.array([clean_kv.get(k, n) for k, n in zip(train_keys, noisy, strict=True)], dtype=np.int64)
        val_keys, val_y = labelled("clean_val_key_list.txt", clean_kv)
        test_keys, test_y = labelled("clean_test_key_list.txt", clean_kv)

        def split(keys: list[str], y: np.ndarray) -> Split:
            return Split(ImageFiles([loc / k for k in keys], size), torch.from_numpy(y))

        return RawData(
            train=split(train_keys, best),
            val=split(val_keys, val_y),
            test=split(test_keys, test_y),
            noisy_train_y=torch.from_numpy(noisy),
            noisy_val_y=torch.from_numpy(val_y),
        )
