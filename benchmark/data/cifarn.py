"""``cifar10n``, ``cifar100n``: CIFAR with the CIFAR-N human labels (Wei et al., ICLR 2022), ``real`` noise.

Images come from the ``cifar10`` / ``cifar100`` folders of the data root; the label files
``CIFAR-10_human.pt`` / ``CIFAR-100_human.pt`` go in ``<root>/cifar10n/`` / ``<root>/cifar100n/``. They are
NumPy pickles inside a torch zip and are read with a NumPy-only unpickler (never a general one). The
labels index the PyTorch (python-batch) order; the file's ``clean_label`` must equal the CIFAR training
labels, which we check. The labels are CC BY-NC 4.0, so they are never vendored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.data._adapter import DatasetAdapter
from benchmark.data._base import RawData, Recipe
from benchmark.data._files import missing
from benchmark.data._restricted_pickle import load_torch_zip_pickle
from benchmark.data.torchvision_sets import CIFAR10, CIFAR100
from benchmark.errors import DataCorruptError
from benchmark.registry import DATASETS

__all__ = ["CIFAR10N", "CIFAR100N"]

_SOURCE = "https://github.com/UCSC-REAL/cifar-10-100n (data/CIFAR-10_human.pt, data/CIFAR-100_human.pt)"


class _CIFARN(DatasetAdapter):
    task = "classification"
    ships_noisy_labels = True
    source = _SOURCE
    licence = "labels CC BY-NC 4.0; images as CIFAR"
    base: type[CIFAR10] | type[CIFAR100] = CIFAR10
    label_file = ""
    label_sets: tuple[str, ...] = ()

    def validate(self) -> None:
        self._choice_option("labels", self.label_sets)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, 32, 32)

    def label_path(self, root: Path) -> Path:
        return self.location(root) / self.label_file

    def required_files(self, root: Path) -> list[Path]:
        return [*self.base().required_files(root), self.label_path(root)]

    def fast_recipe(self) -> Recipe:
        return self.base().fast_recipe()

    def paper_recipe(self) -> Recipe:
        return self.base().paper_recipe()

    def load(self, root: Path, download: bool = False) -> RawData:
        path = self.label_path(root)
        if not path.exists():
            raise missing(self.name, f"label file {self.label_file}", path, f"download it from {_SOURCE}")
        table = load_torch_zip_pickle(path)
        raw = self.base().load(root, download=download)
        chosen = self.kwargs["labels"]
        if not isinstance(table, dict) or chosen not in table or "clean_label" not in table:
            keys = sorted(table) if isinstance(table, dict) else type(table).__name__
            raise DataCorruptError(
                f"cannot read {path}: need keys 'clean_label' and {chosen!r}, found {keys}"
            )
        clean = np.asarray(table["clean_label"], dtype=np.int64)
        noisy = np.asarray(table[chosen], dtype=np.int64)
        if clean.shape != noisy.shape or not np.array_equal(clean, raw.train.y.numpy()):
            raise DataCorruptError(
                f"{path}: 'clean_label' does not match the {self.base.name} training labels "
                "(wrong file, or images not in the PyTorch python-batch order)"
            )
        return RawData(train=raw.train, test=raw.test, noisy_train_y=torch.from_numpy(noisy))


@DATASETS.register("cifar10n", summary="CIFAR-10 with CIFAR-N human labels (option labels=worse_label, ...)")
class CIFAR10N(_CIFARN):
    name = "cifar10n"
    num_classes = 10
    size = "50,000 train / 10,000 test, 3×32×32"
    base = CIFAR10
    label_file = "CIFAR-10_human.pt"
    label_sets = ("worse_label", "aggre_label", "random_label1", "random_label2", "random_label3")
    defaults: ClassVar[dict[str, Any]] = {"labels": "worse_label"}


@DATASETS.register("cifar100n", summary="CIFAR-100 with CIFAR-N human labels (noisy_label)")
class CIFAR100N(_CIFARN):
    name = "cifar100n"
    num_classes = 100
    size = "50,000 train / 10,000 test, 3×32×32"
    base = CIFAR100
    label_file = "CIFAR-100_human.pt"
    label_sets = ("noisy_label",)
    defaults: ClassVar[dict[str, Any]] = {"labels": "noisy_label"}
