"""Every dataset's fast and paper recipe names a model that builds with the recipe's options and runs one
forward/backward step on a fixture-sized input (images capped at 64×64, WRN shrunk to depth 10 / widen 1,
BERT built from a tiny config because its checkpoint is never downloaded)."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import torch

from benchmark.data import get_adapter
from benchmark.engine.recipe import resolve_recipe
from benchmark.models import build_model
from benchmark.registry import DATASETS, load_builtin_components

load_builtin_components()
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
TINY_BERT = {"vocab_size": 30, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 32, "max_position_embeddings": 16}  # fmt: skip


def _cases() -> list[tuple[str, str]]:
    out = []
    for name in DATASETS.names():
        adapter = get_adapter(name)
        out.append((name, "fast"))
        if adapter.paper_recipe() is not None:
            out.append((name, "paper"))
    return out


def _fixture_input(model: str, shape: tuple[int, ...], n: int) -> tuple[tuple[int, ...], torch.Tensor]:
    if model == "lstm-digitsum":
        return shape, torch.randint(0, 11, (n, *shape))
    if model == "bert-mc":
        shape = (*shape[:-1], 8)  # short sequences
        ids = torch.randint(1, 30, (n, *shape[1:]))
        return shape, torch.stack([ids, torch.ones_like(ids), torch.zeros_like(ids)], dim=1)
    if len(shape) == 3:
        shape = (shape[0], min(shape[1], 64), min(shape[2], 64))
    return shape, torch.randn((n, *shape))


@pytest.mark.parametrize(("dataset", "kind"), _cases())
def test_recipe_model_builds_and_steps(dataset: str, kind: str) -> None:
    adapter = get_adapter(dataset)
    recipe = resolve_recipe(adapter.recipe(kind), {})  # the shipped recipe passes validation
    kwargs: dict[str, Any] = dict(recipe.model_kwargs)
    if recipe.model == "wrn-28-10":
        kwargs |= {"depth": 10, "widen": 1}
    if recipe.model == "bert-mc":
        if not HAS_TRANSFORMERS:
            pytest.skip("transformers (the 'text' extra) is not installed")
        kwargs = {"config": TINY_BERT}
    n_out = adapter.num_classes if adapter.task == "classification" else 1
    shape, x = _fixture_input(recipe.model, adapter.input_shape, 2)
    torch.manual_seed(0)
    model = build_model(recipe.model, shape, n_out, **kwargs)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    out = model(x)
    assert out.shape == (2, n_out) and torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    opt.step()
