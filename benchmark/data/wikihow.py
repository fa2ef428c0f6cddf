"""``wikihow``: WikiHow goal / step / order multiple-choice inference (Zhang et al. 2020; spec c.5).

Layout: ``<root>/wikihow/<task>/train.csv`` and ``val.csv`` (task = goal | step | order), in SWAG CSV
format (columns ``sent1``, ``sent2``, ``ending0``…``ending3``, ``label``). As in the paper, ``train.csv``
is the training pool (the validation split is held out from it) and the official ``val.csv`` is the
test set. Inputs are tokenised with a Hugging Face tokenizer (the ``text`` extra): int64 tensors
(N, 3, choices, max_seq_length) stacking input_ids, attention_mask and token_type_ids.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.data._adapter import DatasetAdapter
from benchmark.data._base import RawData, Recipe, Split
from benchmark.data._files import missing
from benchmark.errors import DataCorruptError, DataMissingError
from benchmark.registry import DATASETS

__all__ = ["SwagExample", "WikiHow", "parse_swag_csv", "tokenize"]

_SOURCE = "https://github.com/zharry29/wikihow-goal-step"
EPOCHS = {"goal": 5, "step": 3, "order": 2}


@dataclass(frozen=True)
class SwagExample:
    """One multiple-choice question: context, question start, candidate endings, gold index."""

    context: str
    start: str
    endings: tuple[str, ...]
    label: int


def parse_swag_csv(path: Path) -> list[SwagExample]:
    """Read a SWAG-format CSV; missing columns or bad labels raise DataCorruptError naming the file."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            endings = sorted((c for c in columns if c.startswith("ending")), key=lambda c: int(c[6:] or 0))
            need = [c for c in ("sent1", "sent2", "label") if c not in columns]
            if need or len(endings) < 2:
                raise DataCorruptError(
                    f"cannot read {path}: SWAG columns sent1, sent2, ending0..ending3, label required; "
                    f"missing {need or 'ending columns'}"
                )
            out = []
            for number, row in enumerate(reader, start=2):
                label = row["label"]
                if label is None or not label.strip().isdigit() or int(label) >= len(endings):
                    raise DataCorruptError(
                        f"cannot read {path} line {number}: label {label!r} is not a choice index"
                    )
                out.append(
                    SwagExample(
                        row["sent1"] or "",
                        row["sent2"] or "",
                        tuple(row[e] or "" for e in endings),
                        int(label),
                    )
                )
            return out
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataCorruptError(f"cannot read {path}: {exc}") from exc


def tokenize(examples: list[SwagExample], tokenizer_name: str, max_len: int) -> torch.Tensor:
    """(N, 3, choices, max_len) int64: input_ids, attention_mask, token_type_ids for each choice."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise DataMissingError(
            "dataset 'wikihow' needs the 'text' extra (transformers is not installed): "
            "pip install 'discrimbench[text]'"
        ) from exc
    try:
        tok = AutoTokenizer.from_pretrained(tokenizer_name)
    except OSError as exc:
        raise DataMissingError(
            f"dataset 'wikihow': tokenizer {tokenizer_name!r} not available: {exc}"
        ) from exc
    firsts = [ex.context for ex in examples for _ in ex.endings]
    seconds = [f"{ex.start} {end}".strip() for ex in examples for end in ex.endings]
    enc = tok(
        firsts, seconds, max_length=max_len, padding="max_length", truncation=True, return_token_type_ids=True
    )
    n, k = len(examples), len(examples[0].endings) if examples else 4
    parts = [
        np.asarray(enc[key], dtype=np.int64).reshape(n, k, max_len)
        for key in ("input_ids", "attention_mask", "token_type_ids")
    ]
    return torch.from_numpy(np.stack(parts, axis=1))


@DATASETS.register(
    "wikihow", summary="WikiHow goal/step/order 4-choice inference (SWAG CSVs; needs the text extra)"
)
class WikiHow(DatasetAdapter):
    name = "wikihow"
    task = "classification"
    num_classes = 4
    source = _SOURCE
    licence = "CC BY-NC-SA 3.0 (wikiHow content)"
    size = "goal ≈ 1.5M / step ≈ 1M / order ≈ 0.8M examples (train.csv + val.csv)"
    defaults: ClassVar[dict[str, Any]] = {
        "task": "goal",
        "tokenizer": "bert-base-uncased",
        "max_seq_length": 80,
    }

    def validate(self) -> None:
        self._choice_option("task", tuple(EPOCHS))
        self._int_option("max_seq_length", 8, 512)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, 4, int(self.kwargs["max_seq_length"]))

    def folder(self, root: Path) -> Path:
        return self.location(root) / str(self.kwargs["task"])

    def required_files(self, root: Path) -> list[Path]:
        return [self.folder(root) / "train.csv", self.folder(root) / "val.csv"]

    def fast_recipe(self) -> Recipe:
        return self.paper_recipe().override(epochs=1)

    def paper_recipe(self) -> Recipe:
        # spec c.5: *ForMultipleChoice, AdamW 5e-5, wd 0, eps 1e-8, linear decay, clip 1.0, batch 24.
        return Recipe(
            model="bert-mc", model_kwargs={"pretrained": self.kwargs["tokenizer"]}, optimizer="adamw",
            lr=5e-5, momentum=0.0, weight_decay=0.0, eps=1e-8, schedule="linear",
            epochs=EPOCHS[self.kwargs["task"]], batch_size=24, grad_clip=1.0,
        )  # fmt: skip

    def read_examples(self, root: Path) -> tuple[list[SwagExample], list[SwagExample]]:
        """(train pool, test) examples from the CSVs, without tokenising."""
        for path in self.required_files(root):
            if not path.exists():
                raise missing(
                    self.name, f"{self.kwargs['task']} file {path.name}", path, f"get it from {_SOURCE}"
                )
        train_csv, val_csv = self.required_files(root)
        return parse_swag_csv(train_csv), parse_swag_csv(val_csv)

    def load(self, root: Path, download: bool = False) -> RawData:
        train, test = self.read_examples(root)
        name, length = str(self.kwargs["tokenizer"]), int(self.kwargs["max_seq_length"])

        def split(examples: list[SwagExample]) -> Split:
            y = torch.tensor([ex.label for ex in examples], dtype=torch.int64)
            return Split(tokenize(examples, name, length), y)

        return RawData(train=split(train), test=split(test))
