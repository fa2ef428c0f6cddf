"""Real-dataset loaders against tiny fixtures written in each native format at test time."""

from __future__ import annotations

import importlib.util
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.data import clear_cache, get_adapter, load_raw, prepare
from benchmark.data._restricted_pickle import load_numpy_pickle, load_torch_zip_pickle
from benchmark.data.wikihow import parse_swag_csv
from benchmark.errors import DataCorruptError, DataMissingError, HyperparameterError, NoiseGenerationError
from data import fixtures  # tests/data is a package; pytest puts tests/ on sys.path


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()  # each test writes its own files under a new tmp_path


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path: Path, gz: bool) -> None:
    written = fixtures.write_mnist(tmp_path, gz=gz)
    raw = load_raw(get_adapter("mnist"), str(tmp_path))
    assert raw.train.x.shape == (30, 1, 28, 28) and raw.train.x.dtype == torch.uint8
    np.testing.assert_array_equal(raw.train.x[:, 0].numpy(), written["train"][0])
    np.testing.assert_array_equal(raw.test.y.numpy(), written["t10k"][1])
    p = prepare("mnist", "sym-excl", 0.2, seed=0, data_root=str(tmp_path), recipe_kind="paper")
    assert p.recipe.model == "lenet" and p.recipe.normalize_mean == (0.1307,) and len(p.test) == 10


def test_mnist_missing_and_truncated(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError) as info:
        load_raw(get_adapter("mnist"), str(tmp_path))
    message = _one_line(info)
    assert str(tmp_path / "mnist" / "MNIST" / "raw") in message and "--download" in message
    fixtures.write_mnist(tmp_path)
    images = tmp_path / "mnist" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DataCorruptError, match="train-images-idx3-ubyte: truncated"):
        load_raw(get_adapter("mnist"), str(tmp_path))


# ----------------------------------------------------------------------------------------------- CIFAR
def test_cifar10_batches_and_asym_noise(tmp_path: Path) -> None:
    train_y, test_y = fixtures.write_cifar10(tmp_path)
    raw = load_raw(get_adapter("cifar10"), str(tmp_path))
    assert raw.train.x.shape == (50, 3, 32, 32) and raw.train.x.dtype == torch.uint8
    np.testing.assert_array_equal(raw.train.y.numpy(), train_y)
    np.testing.assert_array_equal(raw.test.y.numpy(), test_y)
    p = prepare("cifar10", "asym-cifar10", 0.4, seed=1, data_root=str(tmp_path), val_fraction=0.2)
    assert len(p.train) == 40 and len(p.val) == 10 and p.recipe.augment == "crop-flip"
    # Only the semantic pairs ever change.
    pairs = {(9, 1), (2, 0), (4, 7), (3, 5), (5, 3)}
    changed = {(int(c), int(n)) for c, n in zip(p.train_clean_y, p.train.y, strict=True) if c != n}
    assert changed <= pairs


def test_cifar100_fine_labels(tmp_path: Path) -> None:
    fine, _ = fixtures.write_cifar100(tmp_path)
    raw = load_raw(get_adapter("cifar100"), str(tmp_path))
    np.testing.assert_array_equal(raw.train.y.numpy(), fine)
    p = prepare("cifar100", "asym-cifar100", 0.3, seed=0, data_root=str(tmp_path), recipe_kind="paper")
    assert p.recipe.model == "wrn-28-10" and p.recipe.milestones == (80, 100) and p.num_classes == 100


def test_cifar_corrupt_and_malicious_pickles(tmp_path: Path) -> None:
    fixtures.write_cifar10(tmp_path)
    batch = tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(DataCorruptError, match="data_batch_3"):
        load_raw(get_adapter("cifar10"), str(tmp_path))

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"data": Evil()}))
    with pytest.raises(DataCorruptError, match=r"refusing to unpickle global builtins\.print"):
        load_numpy_pickle(evil)


# ----------------------------------------------------------------------------------------------- CIFAR-N
def test_cifar10n_real_noise(tmp_path: Path) -> None:
    train_y, _ = fixtures.write_cifar10(tmp_path)
    worse = train_y.copy()
    worse[::4] = (worse[::4] + 3) % 10
    fixtures.write_cifarn(
        tmp_path / "cifar10n" / "CIFAR-10_human.pt",
        {"clean_label": train_y, "worse_label": worse, "aggre_label": train_y.copy()},
    )
    p = prepare("cifar10n", "real", 0.0, seed=0, data_root=str(tmp_path))
    assert p.realised_rate == pytest.approx(np.mean(worse != train_y))
    pool_noisy = np.empty(50, dtype=np.int64)
    pool_noisy[p.extra["train_index"]] = p.train.y.numpy()
    pool_noisy[p.extra["val_index"]] = p.val.y.numpy()
    np.testing.assert_array_equal(pool_noisy, worse)
    aggre = prepare(
        "cifar10n", "real", 0.0, seed=0, data_root=str(tmp_path), dataset_kwargs={"labels": "aggre_label"}
    )
    assert aggre.realised_rate == 0.0
    with pytest.raises(
        HyperparameterError, match="labels='best_label' is not allowed; choose one of worse_label"
    ):
        get_adapter("cifar10n", labels="best_label")
    with pytest.raises(
        NoiseGenerationError, match="'real' needs shipped noisy labels, but dataset 'cifar10'"
    ):
        prepare("cifar10", "real", 0.0, seed=0, data_root=str(tmp_path))


def test_cifarn_label_file_checks(tmp_path: Path) -> None:
    train_y, _ = fixtures.write_cifar10(tmp_path)
    path = tmp_path / "cifar10n" / "CIFAR-10_human.pt"
    with pytest.raises(DataMissingError, match=r"CIFAR-10_human\.pt not found; it must be at .*cifar10n"):
        load_raw(get_adapter("cifar10n"), str(tmp_path))
    fixtures.write_cifarn(path, {"clean_label": (train_y + 1) % 10, "worse_label": train_y})
    with pytest.raises(DataCorruptError, match="'clean_label' does not match the cifar10 training labels"):
        load_raw(get_adapter("cifar10n"), str(tmp_path))
    torch.save({"clean_label": torch.tensor([1, 2])}, path)  # a torch tensor: persistent ids are refused
    with pytest.raises(DataCorruptError, match="refusing"):
        load_torch_zip_pickle(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(DataCorruptError, match="not a torch zip"):
        load_torch_zip_pickle(path)
    with zipfile.ZipFile(path, "w") as archive:  # a torch-style zip with a forbidden global inside
        archive.writestr("x/data.pkl", pickle.dumps({"a": print}, protocol=2))
    with pytest.raises(DataCorruptError, match=r"refusing to unpickle global __builtin__\.print"):
        load_torch_zip_pickle(path)


# ----------------------------------------------------------------------------------------------- UTKFace
def test_utkface_sorted_split_and_lazy_images(tmp_path: Path) -> None:
    ages = [3, 71, 25, 40, 8, 90, 33, 55, 12, 61, 19, 47, 28, 36, 5, 80, 22, 66, 44, 30]
    paths = fixtures.write_utkface(tmp_path, ages)
    adapter = get_adapter("utkface", image_size=12)
    assert adapter.target_scale == 58.0  # the midpoint of the age range: SuperLoss's lam_units: target
    raw = load_raw(adapter, str(tmp_path))
    assert len(raw.train) == 18 and len(raw.test) == 2  # 90/10
    by_name = {p.name: a for p, a in zip(paths, ages, strict=True)}
    all_paths = raw.train.x.paths + raw.test.x.paths
    assert sorted(all_paths) == sorted(paths) and raw.train.x.paths == sorted(raw.train.x.paths)
    np.testing.assert_array_equal(raw.train.y.numpy(), [by_name[p.name] for p in raw.train.x.paths])
    image = raw.train.x[0]
    assert image.shape == (3, 12, 12) and image.dtype == torch.uint8
    again = load_raw(get_adapter("utkface", image_size=12, in_memory=True), str(tmp_path))
    assert torch.equal(again.train.x[0], image) and again.train.x.shape == (18, 3, 12, 12)
    p = prepare(
        "utkface", "permute-block", 0.5, seed=0, data_root=str(tmp_path), dataset_kwargs={"image_size": 12}
    )
    assert p.task == "regression" and len(p.val) == 2 and p.train.x[0].shape == (3, 12, 12)
    assert p.recipe.regression_loss == "smooth_l1"
    assert (
        prepare(
            "utkface",
            "permute-block",
            0.5,
            seed=0,
            data_root=str(tmp_path),
            dataset_kwargs={"image_size": 12},
        ).noisy_labels_sha256
        == p.noisy_labels_sha256
    )
    paths[0].write_bytes(b"\xff\xd8 broken")
    bad = get_adapter("utkface", image_size=12, in_memory=True)
    clear_cache()
    with pytest.raises(DataCorruptError, match=paths[0].name):
        load_raw(bad, str(tmp_path))


def test_utkface_missing(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError) as info:
        prepare("utkface", "gaussian", 0.2, seed=0, data_root=str(tmp_path))
    assert str(tmp_path / "utkface" / "UTKFace") in _one_line(info)


# ----------------------------------------------------------------------------------------------- Clothing1M
def test_clothing1m_real_noise_clean_val_and_test(tmp_path: Path) -> None:
    info = fixtures.write_clothing1m(tmp_path)
    p = prepare("clothing1m", "real", 0.0, seed=0, data_root=str(tmp_path), dataset_kwargs={"image_size": 16})
    assert (len(p.train), len(p.val), len(p.test)) == (28, 6, 6) and p.extra["official_val"]
    keys = list(info["noisy_train"])
    np.testing.assert_array_equal(p.train.y.numpy(), [info["noisy"][k] for k in keys])
    expected_clean = [info["clean"].get(k, info["noisy"][k]) for k in keys]
    np.testing.assert_array_equal(p.train_clean_y.numpy(), expected_clean)
    assert int(p.train_mask.sum()) == sum(
        info["clean"].get(k, info["noisy"][k]) != info["noisy"][k] for k in keys
    )
    assert not p.val_mask.any() and torch.equal(p.val.y, p.val_clean_y)  # validation stays clean
    assert p.train.x[0].shape == (3, 16, 16)
    assert p.recipe.model == "resnet18"
    balanced = load_raw(get_adapter("clothing1m", per_class=1, image_size=16), str(tmp_path))
    assert len(balanced.train) == 14


def test_clothing1m_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError) as info:
        load_raw(get_adapter("clothing1m"), str(tmp_path))
    assert "noisy_label_kv.txt" in _one_line(info) and str(tmp_path / "clothing1m") in str(info.value)
    fixtures.write_clothing1m(tmp_path)
    kv = tmp_path / "clothing1m" / "annotations" / "noisy_label_kv.txt"
    kv.write_text(kv.read_text() + "images/9/bad.jpg fourteen\n")
    with pytest.raises(DataCorruptError, match=r"noisy_label_kv\.txt line 29"):
        load_raw(get_adapter("clothing1m"), str(tmp_path))


# ----------------------------------------------------------------------------------------------- WikiHow
def test_wikihow_csv_parsing(tmp_path: Path) -> None:
    folder = fixtures.write_wikihow(tmp_path, "step")
    examples = parse_swag_csv(folder / "train.csv")
    assert len(examples) == 8 and examples[5].label == 1
    assert examples[2].endings == tuple(f"choice {j} of 2, with a comma" for j in range(4))
    train, test = get_adapter("wikihow", task="step").read_examples(tmp_path)
    assert len(train) == 8 and len(test) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("sent1,ending0,label\na,b,0\n")
    with pytest.raises(DataCorruptError, match=r"bad\.csv.*missing \['sent2'\]"):
        parse_swag_csv(bad)
    with pytest.raises(DataMissingError, match=r"goal file train\.csv not found"):
        get_adapter("wikihow").read_examples(tmp_path)


def test_wikihow_without_transformers_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixtures.write_wikihow(tmp_path, "goal")
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if the text extra were not installed
    with pytest.raises(DataMissingError) as info:
        prepare("wikihow", "sym-excl", 0.2, seed=0, data_root=str(tmp_path))
    assert "pip install 'discrimbench[text]'" in _one_line(info)


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs the text extra")
def test_wikihow_tokenised_with_a_local_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import BertTokenizerFast

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "step", "choice", "of", "with", "a", ","]
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(words + [str(i) for i in range(10)]) + "\n")
    tok_dir = tmp_path / "tok"
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(str(tok_dir))
    fixtures.write_wikihow(tmp_path, "order")
    kw = {"task": "order", "tokenizer": str(tok_dir), "max_seq_length": 16}
    p = prepare(
        "wikihow", "sym-excl", 0.5, seed=0, data_root=str(tmp_path), dataset_kwargs=kw, val_fraction=0.25
    )
    assert p.train.x.shape == (6, 3, 4, 16) and p.test.x.shape == (3, 3, 4, 16) and p.num_classes == 4
    ids, mask, types = p.test.x[0, 0, 0], p.test.x[0, 1, 0], p.test.x[0, 2, 0]
    assert ids[0].item() == words.index("[CLS]") and mask[0].item() == 1 and mask[-1].item() == 0
    assert set(types.tolist()) == {0, 1}  # sentence pair: context, then start + ending
    assert p.recipe.epochs == 1 and get_adapter("wikihow", task="order").paper_recipe().epochs == 2


def test_data_root_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixtures.write_mnist(tmp_path / "elsewhere")
    monkeypatch.setenv("DISCRIMBENCH_DATA", str(tmp_path / "elsewhere"))
    assert len(load_raw(get_adapter("mnist")).train) == 30
