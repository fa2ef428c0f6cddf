"""Apply and validate recipe overrides (``--set recipe.lr=0.01``, ``RunSpec.recipe``, ``RunSpec.epochs``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from benchmark.data._base import Recipe
from benchmark.errors import HyperparameterError, did_you_mean, short

__all__ = ["CHOICES", "resolve_recipe"]

CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("sgd", "adam", "adamw"),
    "schedule": ("constant", "step", "sawtooth-exp", "linear", "coteaching"),
    "regression_loss": ("mse", "smooth_l1"),
    "augment": ("none", "crop-flip"),
}
_TUPLES = ("betas", "milestones", "normalize_mean", "normalize_std")


def _fail(key: str, value: Any, allowed: str) -> HyperparameterError:
    return HyperparameterError(f"recipe.{key}={short(value)} is not allowed ({allowed})")


def resolve_recipe(base: Recipe, overrides: Mapping[str, Any], epochs: int | None = None) -> Recipe:
    """``base`` with ``overrides`` (and ``epochs`` when given) applied, every field checked.

    ``model_kwargs`` overrides are merged into the base recipe's model options.

    Raises:
        HyperparameterError: an unknown key (the message lists the allowed ones) or a bad value.
    """
    names = [f.name for f in dataclasses.fields(Recipe)]
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in names:
            raise HyperparameterError(
                f"recipe.{key} is not a recipe field (allowed: {', '.join(names)}){did_you_mean(key, names)}"
            )
        if key in _TUPLES and isinstance(value, list | tuple):
            value = tuple(value)
        if key == "model_kwargs" and isinstance(value, Mapping):
            value = {**base.model_kwargs, **value}  # merge: one model option can be changed alone
        changes[key] = value
    if epochs is not None:
        changes["epochs"] = epochs
    recipe = base.override(**changes)
    _check(recipe)
    return recipe


def _positive_int(recipe: Recipe, key: str) -> None:
    value = getattr(recipe, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(key, value, "an integer >= 1")


def _check(r: Recipe) -> None:
    for key, allowed in CHOICES.items():
        if getattr(r, key) not in allowed:
            raise _fail(key, getattr(r, key), "one of " + ", ".join(allowed))
    for key in ("epochs", "batch_size", "eval_batch_size"):
        _positive_int(r, key)
    if not isinstance(r.model, str):
        raise _fail("model", r.model, "a model name")
    if not isinstance(r.model_kwargs, dict):
        raise _fail("model_kwargs", r.model_kwargs, "a mapping of model options")
    for key, low_ok in (("lr", False), ("weight_decay", True), ("eps", False), ("gamma", False)):
        value = getattr(r, key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(key, value, "a finite number")
        if value < 0 or (value == 0 and not low_ok):
            raise _fail(key, value, ">= 0" if low_ok else "> 0")
    if isinstance(r.momentum, bool) or not isinstance(r.momentum, int | float) or not 0 <= r.momentum < 1:
        raise _fail("momentum", r.momentum, "0 <= momentum < 1")
    if len(r.betas) != 2 or not all(isinstance(b, int | float) and 0 <= b < 1 for b in r.betas):
        raise _fail("betas", list(r.betas), "two numbers in [0, 1)")
    if not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in r.milestones):
        raise _fail("milestones", list(r.milestones), "a list of epoch numbers >= 0")
    if r.schedule == "coteaching" and (not r.milestones or r.optimizer == "sgd"):
        raise HyperparameterError(
            "recipe.schedule='coteaching' needs recipe.milestones=[decay_start] and an adam/adamw optimizer "
            f"(got milestones={list(r.milestones)}, optimizer={r.optimizer!r})"
        )
    if r.grad_clip is not None and not (isinstance(r.grad_clip, int | float) and r.grad_clip > 0):
        raise _fail("grad_clip", r.grad_clip, "a number > 0 or null")
    if isinstance(r.crop_padding, bool) or not isinstance(r.crop_padding, int) or r.crop_padding < 0:
        raise _fail("crop_padding", r.crop_padding, "an integer >= 0")
    if (r.normalize_mean is None) != (r.normalize_std is None):
        raise HyperparameterError("recipe.normalize_mean and recipe.normalize_std must be set together")
    if r.normalize_std is not None and any(s <= 0 for s in r.normalize_std):
        raise _fail("normalize_std", list(r.normalize_std), "numbers > 0")
