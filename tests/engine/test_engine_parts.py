"""Engine building blocks against independent oracles: AUROC vs scikit-learn, schedules vs torch's own
schedulers and hand-computed plans, crop-flip vs brute-force crops, recipe validation messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from benchmark.data._base import Recipe
from benchmark.engine.batching import Inputs, crop_flip, index_batches
from benchmark.engine.device import resolve_device
from benchmark.engine.metrics import accuracy, auroc, hard_clean_mask, mae
from benchmark.engine.recipe import resolve_recipe
from benchmark.engine.schedules import Schedule
from benchmark.errors import HyperparameterError
from benchmark.runs import RunSpec
from benchmark.training import start_run

# ---- metrics ---------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=2, max_size=60).filter(
        lambda rows: 0 < sum(p for _, p in rows) < len(rows)
    )
)
def test_auroc_equals_sklearn_with_ties(rows: list[tuple[int, bool]]) -> None:
    scores = np.array([s for s, _ in rows], dtype=np.float64) / 4.0  # few distinct values: many ties
    labels = np.array([p for _, p in rows])
    got = auroc(torch.from_numpy(scores), torch.from_numpy(labels)).item()
    assert got == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auroc_known_values_and_degenerate_cases() -> None:
    pos = torch.tensor([True, True, False, False])
    assert auroc(torch.tensor([4.0, 3.0, 2.0, 1.0]), pos).item() == 1.0
    assert auroc(torch.tensor([1.0, 2.0, 3.0, 4.0]), pos).item() == 0.0
    assert auroc(torch.tensor([1.0, 1.0, 1.0, 1.0]), pos).item() == 0.5
    # one tie across classes: pairs (p, n) = 4, wins 3, tie 1 → 3.5 / 4
    assert auroc(torch.tensor([3.0, 2.0, 2.0, 1.0]), pos).item() == 0.875
    assert math.isnan(auroc(torch.tensor([1.0, 2.0]), torch.tensor([True, True])).item())


def test_accuracy_mae_and_hard_clean() -> None:
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])).item() == 75.0
    assert math.isnan(accuracy(torch.empty(0, 2), torch.empty(0, dtype=torch.long)).item())
    assert mae(torch.tensor([[1.0], [3.0]]), torch.tensor([2.0, 5.0])).item() == 1.5
    hardness = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 9.0])
    corrupted = torch.tensor([False, False, False, False, False, True])
    # clean hardness 0..4: 75th percentile = 3.0 → samples 3 and 4
    assert hard_clean_mask(hardness, corrupted).tolist() == [False, False, False, True, True, False]


# ---- schedules -------------------------------------------------------------------------------------


def _schedule(kind: str, **kw: object) -> Schedule:
    recipe = Recipe(model="mlp", optimizer="adam" if kind == "coteaching" else "sgd", schedule=kind, **kw)  # type: ignore[arg-type]
    return Schedule.from_recipe(resolve_recipe(recipe, {}), iters_per_epoch=5)


def test_step_schedule() -> None:
    s = _schedule("step", lr=0.1, milestones=(80, 100), gamma=0.1, epochs=120)
    assert [s.lr(e, 3) for e in (0, 79, 80, 99, 100, 119)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3]
    )
    assert s.beta1(0) is None and not s.per_iteration


def test_sawtooth_matches_a_fresh_exponential_lr_every_epoch() -> None:
    """The torch-1.4 behaviour (spec f.11): a new ExponentialLR each epoch restarts at lr0."""
    gamma, lr0 = math.exp(-0.01), 0.1
    s = _schedule("sawtooth-exp", lr=lr0, gamma=gamma, epochs=3)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr0)
    for epoch in range(3):
        for group in opt.param_groups:
            group["lr"] = lr0  # what torch 1.4's scheduler constructor did (base_lrs at last_epoch 0)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
        for it in range(5):
            assert s.lr(epoch, it) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
            opt.step()
            sched.step()
    assert s.lr(7, 0) == lr0 and s.lr(7, 4) == pytest.approx(lr0 * gamma**4)


def test_linear_schedule_matches_transformers_formula() -> None:
    s = _schedule("linear", lr=5e-5, epochs=2)  # 10 steps in all
    assert [s.lr(e, i) for e in (0, 1) for i in range(5)] == pytest.approx(
        [5e-5 * (10 - t) / 10 for t in range(10)]
    )


def test_coteaching_plan_and_beta1_switch() -> None:
    s = _schedule("coteaching", lr=0.001, milestones=(80,), epochs=200)
    # official plan: lr·(E − e)/(E − d) from epoch d on; β1 0.9 → 0.1 at d
    assert s.lr(79, 0) == 0.001 and s.lr(80, 0) == pytest.approx(0.001)
    assert s.lr(140, 2) == pytest.approx(0.001 * 60 / 120) and s.lr(199, 0) == pytest.approx(0.001 / 120)
    assert (s.beta1(79), s.beta1(80)) == (0.9, 0.1)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=0.5, betas=(0.9, 0.999))
    s.apply([opt], 100, 0)
    assert opt.param_groups[0]["betas"] == (0.1, 0.999)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001 * 100 / 120)


# ---- batching and augmentation ---------------------------------------------------------------------


def test_index_batches_is_a_permutation_without_singletons() -> None:
    gen = torch.Generator().manual_seed(0)
    batches = index_batches(11, 5, gen, torch.device("cpu"))
    assert [b.numel() for b in batches] == [5, 6]
    assert sorted(torch.cat(batches).tolist()) == list(range(11))
    again = index_batches(11, 5, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_the_engine_tells_methods_its_batch_rows_are_distinct() -> None:
    """The promise behind ``MethodContext.distinct_rows`` (DiscrimLoss then skips summing repeated rows)
    rests on the permutation above."""
    spec = RunSpec(
        dataset="synthetic-hard", noise="sym-excl", rate=0.2, method="discrimloss", seed=0, epochs=1
    )
    assert start_run(spec).method.ctx.distinct_rows is True


def test_crop_flip_keeps_shape_and_takes_real_crops() -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 3, 6, 6)
    out = crop_flip(x, 2)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(16):
        candidates = [
            v
            for dy in range(5)
            for dx in range(5)
            for v in (padded[i, :, dy : dy + 6, dx : dx + 6], padded[i, :, dy : dy + 6, dx : dx + 6].flip(2))
        ]
        assert any(torch.equal(out[i], c) for c in candidates)
    assert not torch.equal(out, x)


def test_inputs_scale_uint8_and_normalise() -> None:
    x = torch.tensor([[[[0, 255]]], [[[51, 102]]]], dtype=torch.uint8)  # (2, 1, 1, 2)
    inputs = Inputs(x, torch.device("cpu"), mean=(0.5,), std=(0.25,))
    ((_, batch),) = list(inputs.eval_batches(8))
    expected = (x.float() / 255 - 0.5) / 0.25
    assert torch.allclose(batch, expected)
    tokens = Inputs(torch.tensor([[1, 2], [3, 10]]), torch.device("cpu"))
    assert next(tokens.eval_batches(4))[1].dtype == torch.int64


@pytest.mark.parametrize("augment", ["none", "crop-flip"])
def test_eval_batches_of_a_whole_split_equal_the_gathered_rows(augment: str) -> None:
    """Slices of a prepared split (no gather) and the row path give the same indices and inputs, for
    batch sizes that do and do not divide the split; a split prepared per batch takes the row path."""
    x = torch.randint(0, 256, (11, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    inputs = Inputs(x, torch.device("cpu"), mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.25), augment=augment)
    for batch_size in (1, 4, 11, 64):
        whole = list(inputs.eval_batches(batch_size))
        rows = list(inputs.eval_batches(batch_size, torch.arange(11)))
        assert [len(i) for i, _ in whole] == [len(i) for i, _ in rows]
        for (i_a, x_a), (i_b, x_b) in zip(whole, rows, strict=True):
            assert torch.equal(i_a, i_b) and torch.equal(x_a, x_b)
        assert torch.equal(
            torch.cat([xb for _, xb in whole]),
            (x.float() / 255 - inputs._mean.view(1, -1, 1, 1)) / inputs._std.view(1, -1, 1, 1),
        )  # type: ignore[union-attr]


def test_eval_mode_restores_the_former_mode_and_leaves_an_eval_model_alone() -> None:
    from benchmark.training import eval_mode

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    with eval_mode(model):
        assert not model.training and not model[1].training
    assert model.training and model[1].training
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("boom")
    assert model.training
    model.eval()
    model[1].train()  # a mixed model in eval mode is left exactly as it is
    with eval_mode(model):
        assert not model.training and model[1].training
    assert not model.training and model[1].training


# ---- recipe and device validation -----------------------------------------------------------------


def test_recipe_overrides_are_validated() -> None:
    base = Recipe(model="mlp", model_kwargs={"hidden": [8]})
    r = resolve_recipe(base, {"lr": 0.01, "milestones": [3, 5], "model_kwargs": {"dropout": 0.1}}, epochs=4)
    assert (r.lr, r.milestones, r.epochs) == (0.01, (3, 5), 4)
    assert r.model_kwargs == {"hidden": [8], "dropout": 0.1}
    with pytest.raises(
        HyperparameterError, match=r"recipe\.lrr is not a recipe field \(allowed: model, .*lr,"
    ):
        resolve_recipe(base, {"lrr": 0.1})
    with pytest.raises(
        HyperparameterError, match=r"recipe\.optimizer='rmsprop' is not allowed \(one of sgd, adam"
    ):
        resolve_recipe(base, {"optimizer": "rmsprop"})
    with pytest.raises(HyperparameterError, match=r"recipe\.lr=-1 is not allowed \(> 0\)"):
        resolve_recipe(base, {"lr": -1})
    with pytest.raises(HyperparameterError, match=r"recipe\.batch_size='big'"):
        resolve_recipe(base, {"batch_size": "big"})
    with pytest.raises(HyperparameterError, match="coteaching"):
        resolve_recipe(base, {"schedule": "coteaching"})


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(HyperparameterError, match=r"device='tpu9' is not a device"):
        resolve_device("tpu9")


# ---- selection ----------------------------------------------------------------------------------


def test_best_epoch_ties_and_nans() -> None:
    from benchmark.engine.summary import best_epoch, summarise_history

    hist = [
        {"val/acc": 50.0, "test/acc": 40.0},
        {"val/acc": 70.0, "test/acc": 45.0},
        {"val/acc": math.nan, "test/acc": 60.0},
        {"val/acc": 70.0, "test/acc": 42.0},
    ]
    assert best_epoch(hist, "val/acc", True) == 1  # tie with epoch 3 → earliest
    assert best_epoch(hist, "val/acc", False) == 0
    assert best_epoch([{"val/acc": math.nan}], "val/acc", True) == -1
    s = summarise_history(hist, "acc", "val/acc", True)
    assert (s["test_last"], s["test_best_val"], s["test_oracle"], s["oracle_epoch"]) == (42.0, 45.0, 60.0, 2)
    mae_hist = [{"val/mae": 3.0, "test/mae": 2.0}, {"val/mae": 1.0, "test/mae": 2.5}]
    assert summarise_history(mae_hist, "mae", "val/mae", False)["test_best_val"] == 2.5


def test_keep_freed_memory_sets_the_allocator_once_and_respects_the_user(monkeypatch) -> None:
    import sys

    from benchmark.engine import device

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt is Linux-only")
    monkeypatch.setattr(device, "_allocator_set", False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert device.keep_freed_memory() is False  # the user's own setting wins
    assert device._allocator_set is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert device.keep_freed_memory() is True
    assert device.keep_freed_memory() is False  # once per process
