"""``mnist``, ``cifar10``, ``cifar100``: torchvision's native on-disk formats under the data root.

Layout (what ``torchvision.datasets`` writes with ``download=True``, ``root=<data root>/<name>``)::

    mnist/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch}
    cifar100/cifar-100-python/{train,test}

Downloads go through torchvision (which checks the official MD5s). Reading is ours: IDX files are
parsed with numpy and CIFAR batches with a NumPy-only unpickler, so a corrupt file is reported by name
and no pickle can run code. Images are uint8 (N, C, H, W); the engine scales and normalises them.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from benchmark.data._adapter import DatasetAdapter
from benchmark.data._base import RawData, Recipe, Split
from benchmark.data._files import first_existing, missing, read_idx
from benchmark.data._restricted_pickle import load_numpy_pickle
from benchmark.errors import DataCorruptError, DataMissingError
from benchmark.output_files import check_output_folder
from benchmark.registry import DATASETS

__all__ = ["CIFAR10", "CIFAR100", "MNIST", "read_cifar"]


def _download_hint(name: str, root: Path) -> str:
    """How to get a torchvision dataset: the command that downloads it (``train`` and ``run`` never
    download, so that a study cannot start a multi-gigabyte fetch by accident), or the official files."""
    return (
        f"fetch it once with `discrimbench data prepare {name} --download --data-root {root}` "
        "(torchvision downloads it) or place the official files there"
    )


CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN, CIFAR100_STD = (0.507, 0.487, 0.441), (0.267, 0.256, 0.276)


def _torchvision_download(name: str, location: Path) -> None:
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[name]
    check_output_folder(location, flag="--data-root")  # before hundreds of megabytes are fetched
    try:
        for train in (True, False):
            cls(root=str(location), train=train, download=True)
    except Exception as exc:  # network and archive errors vary by torchvision version
        raise DataMissingError(f"dataset {name!r}: download into {location} failed: {exc}") from exc


@DATASETS.register("mnist", summary="MNIST 28×28 digits (60k/10k), torchvision format under the data root")
class MNIST(DatasetAdapter):
    name = "mnist"
    task = "classification"
    num_classes = 10
    source = "http://yann.lecun.com/exdb/mnist/ (torchvision mirrors)"
    licence = "CC BY-SA 3.0 (as stated by torchvision/TFDS; no licence in the original release)"
    size = "60,000 train / 10,000 test, 1×28×28"

    _FILES: ClassVar[dict[str, tuple[str, str]]] = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, 28, 28)

    def raw_folder(self, root: Path) -> Path:
        return self.location(root) / "MNIST" / "raw"

    def required_files(self, root: Path) -> list[Path]:
        return [self.raw_folder(root) / f for pair in self._FILES.values() for f in pair]

    def is_present(self, root: Path) -> bool:
        return all(first_existing([p, p.with_name(p.name + ".gz")]) for p in self.required_files(root))

    def fast_recipe(self) -> Recipe:
        return Recipe(
            model="small-cnn",
            lr=0.05,
            weight_decay=5e-4,
            epochs=10,
            normalize_mean=(0.1307,),
            normalize_std=(0.3081,),
        )

    def paper_recipe(self) -> Recipe:
        # spec c.1: LeNet, SGD 0.1 / 0.9 / 5e-4, batch 128, 20 epochs, milestones never reached → constant.
        return Recipe(
            model="lenet",
            lr=0.1,
            momentum=0.9,
            weight_decay=5e-4,
            schedule="constant",
            epochs=20,
            batch_size=128,
            normalize_mean=(0.1307,),
            normalize_std=(0.3081,),
        )

    def _split(self, root: Path, which: str) -> Split:
        arrays = []
        for fname in self._FILES[which]:
            plain = self.raw_folder(root) / fname
            path = first_existing([plain, plain.with_name(fname + ".gz")])
            if path is None:
                raise missing(self.name, f"file {fname}", plain, _download_hint(self.name, root))
            arrays.append(read_idx(path))
        images, labels = arrays
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise DataCorruptError(
                f"MNIST {which} files in {self.raw_folder(root)} disagree: images {images.shape}, "
                f"labels {labels.shape}"
            )
        return Split(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))

    def load(self, root: Path, download: bool = False) -> RawData:
        if download and not self.is_present(root):
            _torchvision_download(self.name, self.location(root))
        return RawData(train=self._split(root, "train"), test=self._split(root, "test"))


def read_cifar(paths: list[Path], label_key: str) -> Split:
    """Concatenate CIFAR python batches: uint8 (N, 3, 32, 32) images and int64 labels."""
    xs, ys = [], []
    for path in paths:
        batch = load_numpy_pickle(path)
        if not isinstance(batch, dict):
            raise DataCorruptError(f"cannot read {path}: expected a dict, got {type(batch).__name__}")
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        if "data" not in batch or label_key not in batch:
            raise DataCorruptError(f"cannot read {path}: keys 'data' and {label_key!r} are required")
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
            raise DataCorruptError(
                f"cannot read {path}: data {data.shape} and labels {labels.shape} disagree"
            )
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(labels)
    return Split(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)))


class _CIFAR(DatasetAdapter):
    task = "classification"
    licence = "no explicit licence (Krizhevsky 2009; widely redistributed for research)"
    source = "https://www.cs.toronto.edu/~kriz/cifar.html"
    base_folder = ""
    train_files: tuple[str, ...] = ()
    test_files: tuple[str, ...] = ()
    label_key = "labels"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, 32, 32)

    def folder(self, root: Path) -> Path:
        return self.location(root) / self.base_folder

    def required_files(self, root: Path) -> list[Path]:
        return [self.folder(root) / f for f in (*self.train_files, *self.test_files)]

    def fast_recipe(self) -> Recipe:
        return Recipe(
            model="small-cnn",
            lr=0.05,
            weight_decay=5e-4,
            epochs=15,
            augment="crop-flip",
            normalize_mean=self.mean,
            normalize_std=self.std,
        )

    def paper_recipe(self) -> Recipe:
        # spec c.2: WRN-28-10, SGD 0.1 / 0.9 / 5e-4, batch 128, 120 epochs, ×0.1 at 80 and 100, crop-flip.
        return Recipe(
            model="wrn-28-10",
            lr=0.1,
            momentum=0.9,
            weight_decay=5e-4,
            schedule="step",
            milestones=(80, 100),
            gamma=0.1,
            epochs=120,
            batch_size=128,
            augment="crop-flip",
            crop_padding=4,
            normalize_mean=self.mean,
            normalize_std=self.std,
        )

    def load(self, root: Path, download: bool = False) -> RawData:
        if download and not self.is_present(root):
            _torchvision_download(self.name, self.location(root))
        for path in self.required_files(root):
            if not path.exists():
                raise missing(self.name, f"file {path.name}", path, _download_hint(self.name, root))
        folder = self.folder(root)
        return RawData(
            train=read_cifar([folder / f for f in self.train_files], self.label_key),
            test=read_cifar([folder / f for f in self.test_files], self.label_key),
        )


@DATASETS.register("cifar10", summary="CIFAR-10 (50k/10k, 10 classes), torchvision python batches")
class CIFAR10(_CIFAR):
    name = "cifar10"
    num_classes = 10
    size = "50,000 train / 10,000 test, 3×32×32"
    base_folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    mean, std = CIFAR10_MEAN, CIFAR10_STD


@DATASETS.register("cifar100", summary="CIFAR-100 (50k/10k, 100 fine classes), torchvision python files")
class CIFAR100(_CIFAR):
    name = "cifar100"
    num_classes = 100
    size = "50,000 train / 10,000 test, 3×32×32"
    base_folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    label_key = "fine_labels"
    mean, std = CIFAR100_MEAN, CIFAR100_STD
