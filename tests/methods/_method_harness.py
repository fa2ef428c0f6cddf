"""Tiny harness for the method tests: a context, fixed data and a minimal engine loop.

The loop does exactly what the engine contract in ``benchmark/method.py`` says (outputs per model, loss,
one backward of ``objective()``, model optimiser steps, ``after_step``), so the methods are exercised the
way the real engine uses them, without depending on the engine module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

import baselines  # noqa: F401  (registers the methods)
from benchmark.method import LossMethod, MethodContext, StepLoss
from benchmark.registry import METHODS

N_TRAIN, N_FEATURES, N_CLASSES, BATCH = 12, 5, 3, 4


def make_ctx(
    task: str = "classification", *, epochs: int = 4, noise_rate: float | None = 0.4, **kwargs: object
) -> MethodContext:
    """A tiny context on the CPU."""
    return MethodContext(
        task=task,  # type: ignore[arg-type]
        num_classes=N_CLASSES if task == "classification" else None,
        n_train=N_TRAIN,
        epochs=epochs,
        noise_rate=noise_rate,
        **kwargs,  # type: ignore[arg-type]
    )


def build(name: str, ctx: MethodContext, **params: object) -> LossMethod:
    """Instantiate a registered method with validated params."""
    cls = METHODS.get(name)
    return cls(cls.make_params(params), ctx)


@dataclass
class TinyData:
    """Fixed inputs and noisy targets, and a fixed batch order per epoch."""

    x: torch.Tensor
    y: torch.Tensor
    orders: list[torch.Tensor] = field(default_factory=list)

    def batches(self, epoch: int) -> list[torch.Tensor]:
        order = self.orders[epoch % len(self.orders)]
        return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]


def tiny_data(task: str = "classification", dtype: torch.dtype = torch.float64) -> TinyData:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(N_TRAIN, N_FEATURES, generator=gen, dtype=dtype)
    if task == "classification":
        y = torch.randint(0, N_CLASSES, (N_TRAIN,), generator=gen)
    else:
        y = torch.randn(N_TRAIN, generator=gen, dtype=dtype) * 2.0
    orders = [torch.randperm(N_TRAIN, generator=gen) for _ in range(3)]
    return TinyData(x=x, y=y, orders=orders)


def tiny_models(n: int, out: int, dtype: torch.dtype = torch.float64, seed: int = 1) -> list[nn.Module]:
    torch.manual_seed(seed)
    return [nn.Linear(N_FEATURES, out).to(dtype) for _ in range(n)]


def train(
    method: LossMethod,
    models: Sequence[nn.Module],
    data: TinyData,
    epochs: Sequence[int],
    lr: float = 0.5,
    on_step: Callable[[int, torch.Tensor, StepLoss], None] | None = None,
) -> None:
    """The engine's step, as the contract describes it, over the given epochs."""
    opts = [torch.optim.SGD(m.parameters(), lr=lr) for m in models]

    def predict_train(**_options: object) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The current models on unaugmented inputs (the harness has neither augmentation nor a best
        checkpoint; the engine tests cover those)."""
        with torch.no_grad():
            return [m(data.x) for m in models], data.y

    for epoch in epochs:
        method.on_epoch_start(epoch, predict_train)
        for idx in data.batches(epoch):
            outputs = [m(data.x[idx]) for m in models]
            step = method.loss(outputs, data.y[idx], idx, epoch)
            for opt in opts:
                opt.zero_grad()
            step.objective().backward()
            for opt in opts:
                opt.step()
            method.after_step()
            if on_step is not None:
                on_step(epoch, idx, step)
