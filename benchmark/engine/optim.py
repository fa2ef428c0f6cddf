"""Model optimisers from a :class:`~benchmark.data.Recipe`."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from benchmark.data._base import Recipe

__all__ = ["build_optimizer"]


def build_optimizer(recipe: Recipe, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """SGD (momentum, weight decay), Adam or AdamW (betas, eps, weight decay) at ``recipe.lr``.

    The recipe was validated by :func:`benchmark.engine.recipe.resolve_recipe`, so the name is known.
    """
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    cls = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=recipe.lr, betas=recipe.betas, eps=recipe.eps, weight_decay=recipe.weight_decay)
