"""Writers of tiny datasets in each real dataset's native on-disk format, into a test's tmp_path.

Nothing binary is committed: every fixture is written at test time. Each writer returns the labels it
wrote so tests can compare what the loader reads with what was put there.
"""

from __future__ import annotations

import csv
import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "write_cifar10",
    "write_cifar100",
    "write_cifarn",
    "write_clothing1m",
    "write_idx",
    "write_jpeg",
    "write_mnist",
    "write_utkface",
    "write_wikihow",
]


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """IDX file (MNIST's format): magic 0 0 0x08 ndim, big-endian dims, uint8 data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def write_mnist(root: Path, n_train: int = 30, n_test: int = 10, gz: bool = False, seed: int = 0) -> dict:
    """root/mnist/MNIST/raw/*-ubyte[.gz] as torchvision lays them out."""
    rng = np.random.default_rng(seed)
    raw = root / "mnist" / "MNIST" / "raw"
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, gz)
        out[prefix] = (images, labels)
    return out


def _cifar_batch(path: Path, n: int, rng: np.random.Generator, labels: dict[str, list[int]]) -> np.ndarray:
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump({"batch_label": "fixture", "data": data, **labels}, handle, protocol=2)
    return data


def write_cifar10(root: Path, per_batch: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """root/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch}; returns (train labels, test labels)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar10" / "cifar-10-batches-py"
    train = []
    for i in range(1, 6):
        labels = rng.integers(0, 10, per_batch).tolist()
        _cifar_batch(folder / f"data_batch_{i}", per_batch, rng, {"labels": labels})
        train += labels
    test = rng.integers(0, 10, per_batch).tolist()
    _cifar_batch(folder / "test_batch", per_batch, rng, {"labels": test})
    return np.array(train), np.array(test)


def write_cifar100(
    root: Path, n_train: int = 40, n_test: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """root/cifar100/cifar-100-python/{train,test} with fine and coarse labels."""
    from benchmark.data.noise.asymmetric import CIFAR100_COARSE

    rng = np.random.default_rng(seed)
    folder = root / "cifar100" / "cifar-100-python"
    out = []
    for name, n in (("train", n_train), ("test", n_test)):
        fine = rng.integers(0, 100, n).tolist()
        coarse = [CIFAR100_COARSE[f] for f in fine]
        _cifar_batch(folder / name, n, rng, {"fine_labels": fine, "coarse_labels": coarse})
        out.append(np.array(fine))
    return out[0], out[1]


def write_cifarn(path: Path, table: dict[str, np.ndarray]) -> Path:
    """A CIFAR-N label file: a dict of NumPy arrays saved by torch.save (a NumPy pickle in a torch zip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(table, path)
    return path


def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (20, 16)) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(path, "JPEG")
    return path


def write_utkface(root: Path, ages: list[int]) -> list[Path]:
    """root/utkface/UTKFace/<age>_<gender>_<race>_<date>.jpg.chip.jpg (the aligned & cropped naming)."""
    folder = root / "utkface" / "UTKFace"
    paths = []
    for i, age in enumerate(ages):
        name = f"{age}_{i % 2}_{i % 5}_2017011{i % 10}1234567{i:02d}.jpg.chip.jpg"
        paths.append(write_jpeg(folder / name, seed=i))
    (folder / "README.txt").write_text("not an image")
    return paths


def write_clothing1m(
    root: Path, n_train: int = 28, n_val: int = 6, n_test: int = 6
) -> dict[str, dict[str, int]]:
    """root/clothing1m/annotations/*.txt and images/<d>/<key>.jpg; some train images have clean labels too."""
    loc = root / "clothing1m"
    ann = loc / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    noisy: dict[str, int] = {}
    clean: dict[str, int] = {}
    lists: dict[str, list[str]] = {"noisy_train": [], "clean_val": [], "clean_test": []}
    counter = 0
    for split, n in (("noisy_train", n_train), ("clean_val", n_val), ("clean_test", n_test)):
        for i in range(n):
            key = f"images/{counter % 3}/{counter:04d}.jpg"
            write_jpeg(loc / key, seed=counter)
            lists[split].append(key)
            if split == "noisy_train":
                noisy[key] = i % 14
                if i % 4 == 0:  # a few training images also have a clean label, differing every other time
                    clean[key] = (i + (i % 8 == 0)) % 14
            else:
                clean[key] = i % 14
            counter += 1
    (ann / "noisy_label_kv.txt").write_text("".join(f"{k} {v}\n" for k, v in noisy.items()))
    (ann / "clean_label_kv.txt").write_text("".join(f"{k} {v}\n" for k, v in clean.items()))
    for split, keys in lists.items():
        (ann / f"{split}_key_list.txt").write_text("".join(f"{k}\n" for k in keys))
    return {"noisy": noisy, "clean": clean, **{s: dict.fromkeys(k, 0) for s, k in lists.items()}}


SWAG_COLUMNS = (
    ["video-id", "fold-ind", "startphrase", "sent1", "sent2", "gold-source"]
    + [f"ending{i}" for i in range(4)]
    + ["label"]
)


def write_wikihow(root: Path, task: str = "goal", n_train: int = 8, n_val: int = 3) -> Path:
    """root/wikihow/<task>/{train,val}.csv in SWAG format."""
    folder = root / "wikihow" / task
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.csv", n_train), ("val.csv", n_val)):
        with open(folder / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(SWAG_COLUMNS)
            for i in range(n):
                endings = [f"choice {j} of {i}, with a comma" for j in range(4)]
                writer.writerow([i, i, f"Step {i}", f"Step {i}", "", "gold", *endings, i % 4])
    return folder
