"""Learning-rate (and Adam β1) schedules as pure functions of (epoch, iteration).

The engine sets the values on the optimiser before every step, so a schedule never keeps hidden state and
a resumed run gets the same values as an uninterrupted one.

* ``constant``: lr0.
* ``step``: lr0 · gamma^(number of milestones ≤ epoch); e.g. milestones (80, 100) → epochs 80-99 use
  lr0·gamma, 100+ lr0·gamma².
* ``sawtooth-exp``: UTKFace's official schedule made explicit (spec f.11). The reference re-creates
  ``ExponentialLR`` at every epoch under torch 1.4, which resets to lr0, and steps it after every
  iteration, so iteration ``i`` of any epoch (0-based) uses lr0 · gamma^i.
* ``linear``: transformers' linear decay with no warm-up over the whole run (WikiHow): global step ``t``
  of ``T`` uses lr0 · (T − t) / T.
* ``coteaching``: Han et al.'s Adam plan, per epoch: before ``milestones[0]`` lr0 and β1 = 0.9; from
  epoch e ≥ d = milestones[0] on, lr0 · (E − e) / (E − d) and β1 = 0.1.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch

from benchmark.data._base import Recipe

__all__ = ["Schedule"]

COTEACHING_BETA1 = (0.9, 0.1)  # before / after the decay start, as in the official Co-teaching code


@dataclass(frozen=True)
class Schedule:
    """The schedule of a recipe for a run of ``epochs`` epochs of ``iters_per_epoch`` iterations each."""

    kind: str
    lr0: float
    gamma: float
    milestones: tuple[int, ...]
    epochs: int
    iters_per_epoch: int

    @classmethod
    def from_recipe(cls, recipe: Recipe, iters_per_epoch: int) -> Schedule:
        return cls(
            recipe.schedule,
            recipe.lr,
            recipe.gamma,
            tuple(sorted(recipe.milestones)),
            recipe.epochs,
            max(1, iters_per_epoch),
        )

    def lr(self, epoch: int, it: int) -> float:
        """Learning rate of iteration ``it`` (0-based, within the epoch) of epoch ``epoch`` (0-based)."""
        if self.kind == "constant":
            return self.lr0
        if self.kind == "step":
            return self.lr0 * self.gamma ** bisect.bisect_right(self.milestones, epoch)
        if self.kind == "sawtooth-exp":
            return self.lr0 * self.gamma**it
        if self.kind == "linear":
            total = self.epochs * self.iters_per_epoch
            return self.lr0 * max(0.0, (total - (epoch * self.iters_per_epoch + it)) / total)
        if self.kind == "coteaching":
            start = self.milestones[0]
            if epoch < start:
                return self.lr0
            return self.lr0 * (self.epochs - epoch) / max(1, self.epochs - start)
        raise AssertionError(f"unvalidated schedule {self.kind!r}")

    def beta1(self, epoch: int) -> float | None:
        """Adam's β1 for ``epoch`` where the schedule drives it (Co-teaching), else None."""
        if self.kind != "coteaching":
            return None
        return COTEACHING_BETA1[1] if epoch >= self.milestones[0] else COTEACHING_BETA1[0]

    def apply(self, optimizers: list[torch.optim.Optimizer], epoch: int, it: int) -> None:
        """Set this step's lr (and β1) on every group of every model optimiser (host floats, no sync)."""
        lr = self.lr(epoch, it)
        beta1 = self.beta1(epoch)
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
                if beta1 is not None and "betas" in group:
                    group["betas"] = (beta1, group["betas"][1])

    @property
    def per_iteration(self) -> bool:
        """Whether the lr changes within an epoch (else it is set once per epoch)."""
        return self.kind in ("sawtooth-exp", "linear")
