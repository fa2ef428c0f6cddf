"""The running loss threshold shared by DiscrimLoss (k) and SuperLoss (τ).

Both compare each sample's loss with a threshold that is either fixed, an EMA of the batch mean loss started
from the first batch mean, or the running mean of every loss seen so far, always updated before use.
The state lives on the device in float64 (no host sync per batch); only the "started" flag and the count
are host values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch

from benchmark.errors import HyperparameterError
from benchmark.method import MethodContext

__all__ = ["RunningThreshold", "ThresholdMode", "fixed_threshold"]

ThresholdMode = Literal["fixed", "ema", "global-average"]


def fixed_threshold(value: float | None, mode: str, ctx: MethodContext, missing: str) -> float:
    """The fixed threshold: ``value``, else ln C (the loss of a uniform guess over C classes).

    Raises:
        HyperparameterError: ``missing``, when the fixed mode has no value and the task no classes.
    """
    if value is not None:
        return value
    if mode == "fixed" and (ctx.task != "classification" or not ctx.num_classes):
        raise HyperparameterError(missing)
    return math.log(ctx.num_classes or 1)


class RunningThreshold:
    """A threshold that follows the losses.

    Args:
        mode: "fixed" (always ``fixed``), "ema" (value ← α·value + (1−α)·batch mean, started from the first
            batch mean) or "global-average" (the running mean).
        fixed: the value of the fixed mode (and the value before the first update).
        alpha: the EMA factor α.
        per_sample: in "global-average", average every sample (SuperLoss's τ) instead of every batch mean
            (DiscrimLoss's k).
        device: where the state lives.
    """

    def __init__(
        self, mode: ThresholdMode, fixed: float, alpha: float, *, per_sample: bool, device: torch.device
    ) -> None:
        self.mode = mode
        self.alpha = alpha
        self.per_sample = per_sample
        self.fixed = torch.tensor(fixed, dtype=torch.float64, device=device)
        self.value = self.fixed.clone()
        self.started = False  # host flag: the EMA starts from the first batch mean
        self.total = torch.zeros((), dtype=torch.float64, device=device)
        self.count = 0

    def update(self, losses: torch.Tensor) -> torch.Tensor:
        """Update with this batch's detached (B,) losses and return the threshold (device, float64)."""
        if self.mode == "fixed":  # a constant, whatever a loaded state held
            self.value = self.fixed
            return self.value
        if self.mode == "global-average" and self.per_sample:
            self.total = self.total + losses.sum().to(torch.float64)
            self.count += losses.numel()
        else:
            batch_mean = losses.mean().to(torch.float64)
            if self.mode == "global-average":
                self.total = self.total + batch_mean
                self.count += 1
            elif self.started:
                self.value = self.alpha * self.value + (1.0 - self.alpha) * batch_mean
                return self.value
            else:
                self.value = batch_mean.clone()
                self.started = True
                return self.value
        self.value = self.total / self.count
        self.started = True
        return self.value

    def state_dict(self, keys: tuple[str, str, str, str]) -> dict[str, Any]:
        """Value, started flag, running total and count, under the method's own ``keys`` (in that order)."""
        return dict(
            zip(keys, (self.value.clone(), self.started, self.total.clone(), self.count), strict=True)
        )

    def load_state_dict(self, state: Mapping[str, Any], keys: tuple[str, str, str, str]) -> None:
        """Inverse of :meth:`state_dict`."""
        value, started, total, count = (state[key] for key in keys)
        device = self.fixed.device
        self.value = value.to(device, torch.float64).clone()
        self.started = bool(started)
        self.total = total.to(device, torch.float64).clone()
        self.count = int(count)
