"""Truncated L_q's pruning step in the engine, against the reference code's behaviour worked out by hand
(github.com/AlanChou/Truncated-Loss ``main.py``): before 0-based epoch e with (e+1) >= start and
(e+1) % every == 0, score the whole training set in eval mode with the best checkpoint so far, on the
inputs of the training loader (augmented), and set w_i = 1 iff L_q(p_y) < L_q(k), i.e. p_y > k."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from benchmark.engine.batching import crop_flip
from benchmark.registry import load_builtin_components
from benchmark.runs import RunSpec
from benchmark.training import start_run

load_builtin_components()

TINY = {"n_train": 240, "n_test": 100}
K = 0.5


def _spec(**changes: Any) -> RunSpec:
    base = RunSpec(
        dataset="synthetic-hard", noise="sym-excl", rate=0.4, method="gce", seed=3, device="cpu", epochs=7,
        dataset_kwargs=TINY, recipe={"batch_size": 32, "model_kwargs": {"hidden": [16]}, "lr": 0.5},
        params={"truncated": True, "prune_start": 3, "prune_every": 2, "prune_inputs": "plain"},
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def _record(spec: RunSpec, selection: str) -> tuple[Any, list[dict[str, float]], list[Any], list[np.ndarray]]:
    """Run ``spec``; after each epoch keep its metrics, a copy of the model and the weights in use."""
    loop = start_run(spec)
    rows: list[dict[str, float]] = []
    states: list[Any] = []
    weights: list[np.ndarray] = []

    def on_epoch(_epoch: int, row: dict[str, float]) -> None:
        rows.append(row)
        states.append(copy.deepcopy(loop.models[0].state_dict()))
        weights.append(loop.method.sample_weights().numpy().copy())

    loop.run(selection, on_epoch, progress=False)
    return loop, rows, states, weights


def _p_y_above_k(loop: Any, state: Any) -> np.ndarray:
    """The reference's update_weight on unaugmented inputs: w = 1 iff p_y > k (L_q is decreasing)."""
    model = copy.deepcopy(loop.models[0])
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x) for _, x in loop.train_plain.eval_batches(64)])
    p_y = torch.softmax(logits, 1)[torch.arange(len(loop.y_train)), loop.y_train]
    return (p_y > K).double().numpy()


@pytest.mark.parametrize(("selection", "key"), [("noisy-val", "val/acc"), ("test-oracle", "test/acc")])
def test_pruning_scores_with_the_best_checkpoint_by_the_selection_split(selection: str, key: str) -> None:
    loop, rows, states, weights = _record(_spec(), selection)
    prune_epochs = [e for e in range(7) if loop.method.is_pruning_epoch(e)]
    assert prune_epochs == [3, 5]  # (e+1) >= 3 and (e+1) % 2 == 0
    assert np.array_equal(weights[2], np.ones(len(loop.y_train)))  # nothing pruned before epoch 3
    best_differs_from_current = False
    for e in prune_epochs:
        scores = [row[key] for row in rows[:e]]
        best = scores.index(max(scores))  # the reference saves on a strict improvement: earliest wins
        expected = _p_y_above_k(loop, states[best])
        np.testing.assert_array_equal(weights[e], expected, err_msg=f"epoch {e}, best epoch {best}")
        best_differs_from_current |= not np.array_equal(expected, _p_y_above_k(loop, states[e - 1]))
    assert best_differs_from_current  # otherwise this test could not tell "best" from "current"


def test_current_model_option_scores_with_the_models_as_they_are() -> None:
    params = {**_spec().params, "prune_model": "current"}
    loop, _rows, states, weights = _record(_spec(params=params), "noisy-val")
    assert loop.best is None  # no copy kept
    for e in (3, 5):
        np.testing.assert_array_equal(weights[e], _p_y_above_k(loop, states[e - 1]))


def test_augmented_scoring_uses_the_training_augmentation_in_eval_mode() -> None:
    """With crop-flip, predict_train(augmented=True) equals the eval-mode model on crop_flip of each
    index-order batch, drawing from the same RNG; unaugmented scoring differs."""
    spec = RunSpec(
        dataset="digits", noise="sym-excl", rate=0.4, method="gce", seed=1, device="cpu", epochs=1,
        recipe={"model": "small-cnn", "augment": "crop-flip", "crop_padding": 2, "eval_batch_size": 100},
        params={"truncated": True},
    )  # fmt: skip
    loop = start_run(spec)
    loop.models[0].train()
    torch.manual_seed(11)
    (augmented,), targets = loop._predict_train(augmented=True)
    assert loop.models[0].training  # the mode is restored
    x = torch.as_tensor(loop.data.train.x).float()
    model = copy.deepcopy(loop.models[0]).eval()
    torch.manual_seed(11)
    with torch.no_grad():
        expected = torch.cat([model(crop_flip(x[i : i + 100], 2)) for i in range(0, len(x), 100)])
    torch.testing.assert_close(augmented, expected, rtol=0, atol=0)
    assert torch.equal(targets, loop.y_train)
    (plain,), _ = loop._predict_train(augmented=False)
    assert not torch.equal(plain, augmented)
