"""The bare training loop that the speed benchmarks hold the engine and whole runs against.

One hand-written loop (epoch permutation, forward, mean cross-entropy, backward, step) shared by
``benchmarks/engine.py`` (engine epoch vs plain epoch) and ``benchmarks/whole_run.py`` (whole run vs bare
loop), so both ratios have the same denominator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from benchmark.data import PreparedData
from benchmark.engine.batching import Inputs, index_batches
from benchmark.engine.optim import build_optimizer
from benchmark.engine.recipe import resolve_recipe
from benchmark.models import build_model
from benchmark.seeding import seed_streams

__all__ = ["plain_loop"]


def plain_loop(
    data: PreparedData, recipe_overrides: dict[str, Any], epochs: int, device: torch.device
) -> Callable[[int], float]:
    """A minimal hand-written loop over ``data``'s recipe model; returns its epoch function, which gives
    the epoch's last loss (one host read per epoch, as the engine's)."""
    recipe = resolve_recipe(data.recipe, recipe_overrides, epochs)
    torch.manual_seed(seed_streams(0).init)
    n_out = data.num_classes or 1
    model = build_model(recipe.model, data.input_shape, n_out, **recipe.model_kwargs).to(device)
    opt = build_optimizer(recipe, model.parameters())
    x = Inputs(data.train.x, device, recipe.normalize_mean, recipe.normalize_std).x
    y = data.train.y.to(device)
    gen = torch.Generator().manual_seed(0)

    def train_epoch(epoch: int) -> float:
        model.train()
        for idx in index_batches(len(y), recipe.batch_size, gen, device):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return float(loss.detach())

    return train_epoch
