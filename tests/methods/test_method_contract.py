"""The method contract, for every registered method: registering a method enrols it here."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from _method_harness import BATCH, N_CLASSES, N_TRAIN, build, make_ctx, tiny_data, tiny_models, train

from benchmark.errors import HyperparameterError
from benchmark.method import LossMethod
from benchmark.registry import METHODS
from benchmark.space import Choice, FloatRange, IntRange
from tests.host_sync import HostSyncDetector

NAMES = METHODS.names()


def test_all_five_methods_are_registered_and_subclass_the_contract() -> None:
    assert set(NAMES) >= {"ce", "gce", "superloss", "coteaching", "discrimloss"}
    assert METHODS.base is LossMethod
    with pytest.raises(TypeError, match="must subclass LossMethod"):
        METHODS.add("not-a-method-class", int)


@pytest.mark.parametrize("name", NAMES)
def test_loss_shape_finite_and_gradients_reach_every_parameter(name: str) -> None:
    cls = METHODS.get(name)
    method = build(name, make_ctx())
    data = tiny_data()
    models = tiny_models(cls.n_models, N_CLASSES)
    idx = data.batches(0)[0]
    step = method.loss([m(data.x[idx]) for m in models], data.y[idx], idx, 0)
    assert step.per_sample.shape == (cls.n_models, BATCH)
    assert step.task_loss.shape == (cls.n_models, BATCH)
    assert step.regulariser.shape == ()
    assert torch.isfinite(step.per_sample).all()
    # what the engine back-propagates is the batch mean of per_sample (summed over models) plus the
    # regulariser, whatever shortcut the method took (StepLoss.batch_mean, a fused kernel)
    general = step.per_sample.detach().mean(dim=1).sum()
    general = general + step.regulariser.detach() if step.regularised else general
    torch.testing.assert_close(step.objective().detach(), general, rtol=1e-6, atol=1e-7)
    step.objective().backward()
    for model in models:
        for param in model.parameters():
            assert param.grad is not None
            assert param.grad.abs().sum() > 0
    method.after_step()


@pytest.mark.parametrize("name", NAMES)
def test_training_steps_never_copy_to_the_host(name: str) -> None:
    """loss() and after_step() run without a device-to-host copy (all state is device tensors)."""
    cls = METHODS.get(name)
    method = build(name, make_ctx())
    data = tiny_data()
    models = tiny_models(cls.n_models, N_CLASSES)
    for epoch in range(2):
        for idx in data.batches(epoch):
            outputs = [m(data.x[idx]) for m in models]
            with HostSyncDetector() as detector:
                step = method.loss(outputs, data.y[idx], idx, epoch)
            step.objective().backward()
            with HostSyncDetector() as detector_after:
                method.after_step()
            assert detector.syncs == [] and detector_after.syncs == []


def test_host_sync_detector_catches_item() -> None:
    """The detector above would fail a method that called .item()."""
    with HostSyncDetector() as detector:
        torch.ones(3).sum().item()
    assert detector.syncs


def test_ce_equals_cross_entropy() -> None:
    data = tiny_data()
    (model,) = tiny_models(1, N_CLASSES)
    method = build("ce", make_ctx())
    logits = model(data.x)
    step = method.loss([logits], data.y, torch.arange(N_TRAIN), 0)
    torch.testing.assert_close(step.objective(), F.cross_entropy(logits, data.y), rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip_resumes_identically(name: str, float64_default: None) -> None:
    """Train, checkpoint, restore into a fresh instance, and continue: identical to not stopping."""
    cls = METHODS.get(name)
    ctx = make_ctx(epochs=4)
    data = tiny_data()
    params = {"prune_start": 1, "prune_every": 1, "truncated": True} if name == "gce" else {}
    method = build(name, ctx, **params)
    models = tiny_models(cls.n_models, N_CLASSES)
    train(method, models, data, epochs=[0, 1])
    state = copy.deepcopy(method.state_dict())
    resumed_models = copy.deepcopy(models)
    resumed = build(name, ctx, **params)
    resumed.load_state_dict(state)

    losses: dict[str, list[torch.Tensor]] = {"a": [], "b": []}
    train(method, models, data, epochs=[2, 3], on_step=lambda e, i, s: losses["a"].append(s.per_sample))
    train(
        resumed, resumed_models, data, epochs=[2, 3], on_step=lambda e, i, s: losses["b"].append(s.per_sample)
    )
    for a, b in zip(losses["a"], losses["b"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    weights_a, weights_b = method.sample_weights(), resumed.sample_weights()
    if weights_a is None:
        assert weights_b is None
    else:
        torch.testing.assert_close(weights_a, weights_b, rtol=0, atol=0)
    for key, value in method.state_dict().items():
        other = resumed.state_dict()[key]
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, other, rtol=0, atol=0)
        else:
            assert value == other


@pytest.mark.parametrize("name", NAMES)
def test_sample_weights_are_per_sample_device_tensors(name: str) -> None:
    ctx = make_ctx()
    method = build(name, ctx)
    weights = method.sample_weights()
    if weights is not None:
        assert weights.shape == (N_TRAIN,)
        assert weights.device == ctx.device
        assert torch.isfinite(weights).all()


@pytest.mark.parametrize("name", NAMES)
def test_regression_is_supported_or_refused_in_one_line(name: str) -> None:
    cls = METHODS.get(name)
    ctx = make_ctx("regression")
    if "regression" not in cls.tasks:
        with pytest.raises(HyperparameterError, match="does not support regression"):
            build(name, ctx)
        return
    params = {"tau": 1.0} if name == "superloss" else {}
    method = build(name, ctx, **params)
    data = tiny_data("regression")
    models = tiny_models(cls.n_models, 1)
    idx = data.batches(0)[0]
    step = method.loss([m(data.x[idx]) for m in models], data.y[idx], idx, 0)  # (B, 1) outputs
    assert step.per_sample.shape == (cls.n_models, BATCH)
    torch.testing.assert_close(
        step.task_loss[0], (models[0](data.x[idx]).squeeze(1) - data.y[idx]).detach() ** 2
    )


@pytest.mark.parametrize("name", NAMES)
def test_presets_and_search_space_are_valid(name: str) -> None:
    cls = METHODS.get(name)
    presets = cls.presets()
    assert "paper" in presets
    for values in presets.values():
        cls.make_params(values)
    fields = set(cls.Params.model_fields)
    cls.make_params({})
    for key, dist in cls.search_space(make_ctx(epochs=20)).items():
        assert key in fields
        assert isinstance(dist, FloatRange | IntRange | Choice)
        if isinstance(dist, FloatRange | IntRange):
            assert dist.low <= dist.high
            cls.make_params({key: dist.low})
            cls.make_params({key: dist.high})
        else:
            for choice in dist.choices:
                cls.make_params({key: choice})


@pytest.mark.parametrize("name", NAMES)
def test_unknown_hyperparameter_is_one_clear_error(name: str) -> None:
    with pytest.raises(HyperparameterError, match=rf"^{name}\.bogus is not a hyperparameter of {name}$"):
        METHODS.get(name).make_params({"bogus": 1})


@pytest.mark.parametrize("n", [1, 7, 32, 128, 1000])
def test_one_model_objective_is_the_batch_mean_bit_for_bit(n: int) -> None:
    """The one-model shortcut of ``StepLoss.objective`` gives the value of the general formula."""
    from benchmark.method import StepLoss

    gen = torch.Generator().manual_seed(n)
    for dtype in (torch.float32, torch.float64):
        per_sample = torch.randn(1, n, generator=gen, dtype=dtype)
        reg = torch.randn((), generator=gen, dtype=dtype)
        step = StepLoss(per_sample=per_sample, regulariser=reg, task_loss=per_sample)
        assert torch.equal(step.objective(), per_sample.mean(dim=1).sum() + reg)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_task_loss_and_mean_gives_the_per_sample_loss_and_the_same_gradient_bits(task: str) -> None:
    """CE's fused path (``task_loss_and_mean``) against the per-sample loss and its plain mean: equal
    per-sample values, the mean up to rounding, and the gradient on the outputs bit for bit (batch sizes
    with and without an exact 1/B)."""
    from benchmark.method import task_loss, task_loss_and_mean

    gen = torch.Generator().manual_seed(5)
    for batch in (1, 14, 32, 100):
        if task == "classification":
            logits = torch.randn(batch, 7, generator=gen, dtype=torch.float32) * 3
            targets = torch.randint(0, 7, (batch,), generator=gen)
        else:
            logits = torch.randn(batch, 1, generator=gen, dtype=torch.float32) * 3
            targets = torch.randn(batch, generator=gen)
        plain_in = logits.clone().requires_grad_()
        ell = task_loss(plain_in, targets, task)
        ell.mean().backward()
        fused_in = logits.clone().requires_grad_()
        values, mean = task_loss_and_mean(fused_in, targets, task)
        mean.backward()
        assert not values.requires_grad
        assert torch.equal(values, ell.detach())
        torch.testing.assert_close(mean.detach(), ell.detach().mean(), rtol=2e-7, atol=0)
        assert plain_in.grad is not None and fused_in.grad is not None
        assert torch.equal(fused_in.grad, plain_in.grad), batch


def test_one_model_step_loss_views_and_objective() -> None:
    """``StepLoss.one_model``: (1, B) fields that share the (B,) tensors' values, the objective the plain
    mean (plus a given regulariser), and a given fused batch_mean taken as it is."""
    from benchmark.method import StepLoss

    per_sample = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    task = torch.tensor([0.5, 0.25, 0.125])
    step = StepLoss.one_model(per_sample, task)
    assert step.per_sample.shape == step.task_loss.shape == (1, 3) and not step.regularised
    assert torch.equal(step.task_loss[0], task)
    assert step.objective().item() == pytest.approx(7.0 / 3.0)
    step.objective().backward()
    assert per_sample.grad is not None and torch.equal(per_sample.grad, torch.full((3,), 1.0 / 3.0))
    reg = torch.tensor(10.0)
    assert StepLoss.one_model(per_sample, task, reg).objective().item() == pytest.approx(7.0 / 3.0 + 10.0)
    fused = torch.tensor(99.0)
    assert StepLoss.one_model(per_sample.detach(), task, batch_mean=fused).objective() is fused
