"""DiscrimLoss against an independent step-by-step reference written from the spec (a.2-a.4, a.6).

The reference keeps its per-sample state in numpy, updates the model with the spec's closed-form
gradient ∂J/∂θ = (1/|B|)·Σ ES·[(1−β)/(1−β^(e+1))]·(1/σ_i)·∂ℓ_i/∂θ, and s with
∂J/∂s_i = −ES·(L̂_i − γk)·e^(−s_i)/|B| + wd·s_i, lazy momentum and the all-N clamp, in plain loops.
"""

from __future__ import annotations

import copy
import csv
import io
import math
from importlib import resources
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _method_harness import BATCH, N_CLASSES, N_TRAIN, build, make_ctx, tiny_data, tiny_models, train

from baselines.discrimloss import LN_20, DiscrimLoss, early_suppression, gamma, q_from_old
from benchmark.errors import HyperparameterError
from benchmark.space import IntRange

EPOCHS = 5


def ref_es(e: int, es_type: str, eps: int) -> float:
    if e >= eps:
        return 1.0
    if es_type == "linear":
        return [0.1, 0.2, 0.3, 0.4, 0.5][e]
    if es_type == "piecewise":
        return 0.2
    if es_type == "sin":
        return math.sin((e + 1) / eps * math.pi / 2) * eps / 10
    return math.exp(e + 1 - eps) * eps / 10


def reference(cfg: dict[str, Any], data: Any, model: torch.nn.Module, lr: float) -> dict[str, Any]:
    """Plain re-statement of spec a.6 (with the ablation switches), one sample at a time."""
    beta, rho, momentum = 0.9, 0.9, 0.9
    ema, s, mom = np.zeros(N_TRAIN), np.zeros(N_TRAIN), np.zeros(N_TRAIN)
    k, batch_means = None, []
    low = cfg["clamp_min"] if cfg.get("clamp_space", "log") == "log" else math.log(cfg["clamp_min"])
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for e in range(EPOCHS):
        es = ref_es(e, cfg["es_type"], cfg["sup_eps"]) if cfg.get("use_es", True) else 1.0
        g = (
            cfg["a"] * math.tanh(cfg["p"] * (e - cfg["q"])) + cfg["a"] + 1
            if cfg.get("use_gamma", True)
            else 1.0
        )
        for idx_t in data.batches(e):
            idx = idx_t.numpy()
            ell_t = F.cross_entropy(model(data.x[idx_t]), data.y[idx_t], reduction="none")
            ell = ell_t.detach().numpy()
            if cfg.get("use_loss_ema", True):
                m = beta * ema[idx] + (1 - beta) * ell
                ema[idx] = m
                l_hat, dl_hat = m / (1 - beta ** (e + 1)), (1 - beta) / (1 - beta ** (e + 1))
            else:
                l_hat, dl_hat = ell, 1.0
            batch_means.append(l_hat.mean())
            mode = cfg.get("k_mode", "ema")
            if mode == "ema":
                k = batch_means[0] if k is None else rho * k + (1 - rho) * batch_means[-1]
            elif mode == "global-average":
                k = float(np.mean(batch_means))
            else:
                k = math.log(N_CLASSES)
            sigma = np.exp(s[idx])
            losses.append(es * (l_hat - g * k) / sigma)
            # model step with the closed-form gradient
            opt.zero_grad()
            (torch.tensor(es * dl_hat / sigma) * ell_t).mean().backward()
            opt.step()
            # s step: explicit gradient, lazy momentum, all-N clamp
            grad = np.zeros(N_TRAIN)
            grad[idx] = -es * (l_hat - g * k) * np.exp(-s[idx]) / len(idx) + cfg["wd_inst_param"] * s[idx]
            for i in range(N_TRAIN):
                if grad[i] != 0.0:
                    mom[i] = momentum * mom[i] + grad[i]
                    s[i] = s[i] - cfg["lr_inst_param"] * mom[i]
            s = np.clip(s, low, LN_20)
    return {"exp_avg": ema, "s": s, "momentum": mom, "k": k, "losses": losses}


BASE = {
    "clamp_min": 0.07855,
    "lr_inst_param": 2.609,
    "wd_inst_param": 0.0,
    "sup_eps": 3,
    "es_type": "linear",
    "a": 0.3,
    "p": 1.2,
    "q": 2,
}
CONFIGS = {
    "main": BASE,
    "wd-sigma-space-sin": {
        **BASE,
        "clamp_space": "sigma",
        "clamp_min": 0.5,
        "wd_inst_param": 0.05,
        "es_type": "sin",
        "lr_inst_param": 5.0,
    },
    "both-clamps-exp": {**BASE, "clamp_min": -1.0, "lr_inst_param": 400.0, "es_type": "exp", "sup_eps": 2},
    "piecewise-no-es": {**BASE, "es_type": "piecewise", "sup_eps": 0},
    "fixk-no-gamma": {**BASE, "k_mode": "fixed", "use_gamma": False},
    "gak": {**BASE, "k_mode": "global-average"},
    "no-es": {**BASE, "use_es": False},
    "no-loss-ema": {**BASE, "use_loss_ema": False},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_matches_reference_value_by_value(name: str, float64_default: None) -> None:
    cfg = CONFIGS[name]
    data = tiny_data()
    (model,) = tiny_models(1, N_CLASSES)
    ref_model = copy.deepcopy(model)
    method = build("discrimloss", make_ctx(epochs=EPOCHS), **cfg)
    losses: list[torch.Tensor] = []
    train(
        method, [model], data, range(EPOCHS), lr=0.5, on_step=lambda e, i, s: losses.append(s.per_sample[0])
    )
    ref = reference(cfg, data, ref_model, lr=0.5)

    for ours, theirs in zip(losses, ref["losses"], strict=True):
        np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=1e-10, atol=1e-12)
    state = method.state_dict()
    for key in ("exp_avg", "s", "momentum"):
        np.testing.assert_allclose(state[key].numpy(), ref[key], rtol=1e-10, atol=1e-12, err_msg=key)
    assert float(state["k"]) == pytest.approx(ref["k"], rel=1e-10)
    for ours_p, ref_p in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(ours_p, ref_p, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        method.sample_weights(), torch.exp(-torch.tensor(ref["s"])), rtol=1e-10, atol=0
    )
    if name == "both-clamps-exp":  # the reference path through both clamp bounds was exercised
        assert (ref["s"] == LN_20).any() and (ref["s"] == -1.0).any()
    if name == "wd-sigma-space-sin":
        assert (ref["s"] == math.log(0.5)).any()


def test_first_step_lifts_every_sigma_to_exp_clamp_min(float64_default: None) -> None:
    """clamp_min bounds log σ (official units): after one step all N entries are ≥ clamp_min, and the
    unvisited ones (s = 0 < clamp_min) sit exactly on it."""
    data = tiny_data()
    method = build("discrimloss", make_ctx(), **BASE)
    (model,) = tiny_models(1, N_CLASSES)
    idx = data.batches(0)[0]
    method.loss([model(data.x[idx])], data.y[idx], idx, 0).objective().backward()
    method.after_step()
    s = method.state_dict()["s"]
    unvisited = torch.ones(N_TRAIN, dtype=torch.bool)
    unvisited[idx] = False
    assert torch.all(s[unvisited] == 0.07855)
    assert torch.all(s >= 0.07855)


def test_ablations_change_exactly_what_they_name(float64_default: None) -> None:
    """From one mid-training state, at epoch 2 (ES = 0.3, γ ≠ 1): each ablation's d equals the full d with
    only its own ingredient replaced."""
    data = tiny_data()
    ctx = make_ctx(epochs=EPOCHS)
    full = build("discrimloss", ctx, **BASE)
    (model,) = tiny_models(1, N_CLASSES)
    train(full, [model], data, [0, 1])
    state = copy.deepcopy(full.state_dict())
    idx = data.batches(2)[0]
    with torch.no_grad():
        ell = F.cross_entropy(model(data.x[idx]), data.y[idx], reduction="none")

    def d_of(**ablation: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        method = build("discrimloss", ctx, **{**BASE, **ablation})
        method.load_state_dict(copy.deepcopy(state))
        with torch.no_grad():
            d = method.loss([model(data.x[idx])], data.y[idx], idx, 2).per_sample[0]
        return d, method.state_dict()

    es, g = 0.3, gamma(2, 0.3, 1.2, 2)
    m = 0.9 * state["exp_avg"][idx] + 0.1 * ell
    l_hat = m / (1 - 0.9**3)
    k = 0.9 * state["k"] + 0.1 * l_hat.mean()
    inv_sigma = torch.exp(-state["s"][idx])
    d_full, full_state = d_of()
    torch.testing.assert_close(d_full, es * (l_hat - g * k) * inv_sigma, rtol=1e-12, atol=1e-14)
    assert g != pytest.approx(1.0)

    expectations = {
        "use_es": ({"use_es": False}, (l_hat - g * k) * inv_sigma),
        "use_gamma": ({"use_gamma": False}, es * (l_hat - k) * inv_sigma),
        "k_mode": ({"k_mode": "fixed"}, es * (l_hat - g * math.log(N_CLASSES)) * inv_sigma),
        "use_loss_ema": (
            {"use_loss_ema": False},
            es * (ell - g * (0.9 * state["k"] + 0.1 * ell.mean())) * inv_sigma,
        ),
    }
    for label, (ablation, expected) in expectations.items():
        d, ablated_state = d_of(**ablation)
        torch.testing.assert_close(d, expected, rtol=1e-12, atol=1e-14, msg=label)
        assert not torch.allclose(d, d_full), label
        if label != "use_loss_ema":  # the loss EMA is untouched by the other ablations
            torch.testing.assert_close(ablated_state["exp_avg"], full_state["exp_avg"], rtol=0, atol=0)
        else:
            torch.testing.assert_close(ablated_state["exp_avg"], state["exp_avg"], rtol=0, atol=0)


def test_schedules() -> None:
    assert [early_suppression(e, "linear", 3) for e in range(5)] == [0.1, 0.2, 0.3, 1.0, 1.0]  # the jump
    assert [early_suppression(e, "piecewise", 2) for e in range(3)] == [0.2, 0.2, 1.0]
    assert early_suppression(0, "sin", 2) == pytest.approx(math.sin(math.pi / 4) * 0.2)
    assert early_suppression(0, "exp", 3) == pytest.approx(math.exp(-2) * 0.3)
    assert all(
        early_suppression(e, t, 0) == 1.0 for e in range(3) for t in ("linear", "sin", "exp", "piecewise")
    )
    # γ: ≈1 early, 1 + a at e = q, ≈ 1 + 2a late (spec a.5 sanity check for configuration C)
    assert gamma(0, 0.2739, 0.5441, 60) == pytest.approx(1.0, abs=1e-12)
    assert gamma(60, 0.2739, 0.5441, 60) == pytest.approx(1.2739)
    assert gamma(65, 0.2739, 0.5441, 60) == pytest.approx(1.55, abs=0.01)
    # the old UTKFace form a·tanh(p·e + q_old) + a + 1 equals the new form with q = −q_old/p
    for e in range(100):
        old = 0.4195 * math.tanh(1.398 * e - 57) + 0.4195 + 1
        assert gamma(e, 0.4195, 1.398, q_from_old(-57, 1.398)) == pytest.approx(old, abs=1e-12)


def test_defaults_presets_and_search_space() -> None:
    paper = DiscrimLoss.make_params(DiscrimLoss.presets()["paper"])
    assert (paper.es_type, paper.k_mode, paper.clamp_space) == ("linear", "ema", "log")
    assert build("discrimloss", make_ctx(epochs=20)).q == 10.0  # q=None → round(0.5·E)
    assert DiscrimLoss.search_space(make_ctx(epochs=20))["q"] == IntRange(2, 18)  # the paper's MNIST range
    assert DiscrimLoss.search_space(make_ctx(epochs=200))["q"] == IntRange(20, 180)


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"clamp_min": 3.0}, r"^discrimloss\.clamp_min=3\.0: Value error, must satisfy clamp_min < ln 20"),
        (
            {"clamp_min": LN_20},
            r"^discrimloss\.clamp_min=2\.99\d+: Value error, must satisfy clamp_min < ln 20",
        ),
        ({"clamp_space": "sigma", "clamp_min": 0.0}, r"^discrimloss\.clamp_min=0\.0: .*0 < clamp_min < 20"),
        ({"es_type": "cosine"}, r"^discrimloss\.es_type='cosine': .*'linear', 'piecewise', 'sin' or 'exp'"),
        ({"sup_eps": -1}, r"^discrimloss\.sup_eps=-1: Input should be greater than or equal to 0"),
        ({"lr_inst_param": 0}, r"^discrimloss\.lr_inst_param=0: Input should be greater than 0"),
        ({"k_mode": "median"}, r"^discrimloss\.k_mode='median': .*'ema', 'fixed' or 'global-average'"),
        (
            {"sigma_min": 1.0},
            r"^discrimloss\.sigma_min is not a hyperparameter of discrimloss; did you mean 'clamp_min'\?$",
        ),
    ],
)
def test_bad_hyperparameters_name_the_parameter_and_range(params: dict[str, Any], pattern: str) -> None:
    with pytest.raises(HyperparameterError, match=pattern):
        DiscrimLoss.make_params(params)


def test_sigma_space_clamp_allows_up_weighting(float64_default: None) -> None:
    method = build("discrimloss", make_ctx(), **{**BASE, "clamp_space": "sigma", "clamp_min": 0.05})
    assert method.clamp_bounds == (math.log(0.05), LN_20)


def test_fixed_k_on_regression_needs_a_value() -> None:
    with pytest.raises(HyperparameterError, match=r"discrimloss\.k_value=None: k_mode 'fixed'"):
        build("discrimloss", make_ctx("regression"), k_mode="fixed")
    assert build("discrimloss", make_ctx("regression"), k_mode="fixed", k_value=2.0).k_value == 2.0


def test_regression_uses_smooth_l1_from_the_context(float64_default: None) -> None:
    data = tiny_data("regression")
    (model,) = tiny_models(1, 1)
    method = build("discrimloss", make_ctx("regression", regression_loss="smooth_l1"), **BASE)
    idx = data.batches(0)[0]
    step = method.loss([model(data.x[idx])], data.y[idx], idx, 0)
    expected = F.smooth_l1_loss(model(data.x[idx]).squeeze(1), data.y[idx], reduction="none", beta=1.0)
    torch.testing.assert_close(step.task_loss[0], expected.detach())
    assert step.per_sample.shape == (1, BATCH)


def _official_row(dataset: str, rate: str) -> dict[str, str]:
    text = (resources.files("benchmark") / "presets" / "official-discrimloss-params.csv").read_text()
    (row,) = [r for r in csv.DictReader(io.StringIO(text)) if (r["dataset"], r["rate"]) == (dataset, rate)]
    return row


@pytest.mark.parametrize(
    ("preset", "dataset", "rates"),
    [("paper", "CIFAR-10", ("0.20", "0.40", "0.60")), ("cifar-a", "CIFAR-10", ("0.0", "0.80"))],
)
def test_cifar_presets_equal_the_official_values_exactly(preset: str, dataset: str, rates: tuple) -> None:
    """Configuration C (CIFAR-10 20-60 %) and A (0 and 80 %), compared with the official
    hy_best_params.json values (the packaged CSV) by float equality, not to four figures."""
    params = DiscrimLoss.make_params(DiscrimLoss.presets()[preset])
    for rate in rates:
        row = _official_row(dataset, rate)
        for column, name in (("clamp_min", "clamp_min"), ("lr_inst_param", "lr_inst_param"), ("a", "a"),
                             ("p", "p"), ("wd_inst_param", "wd_inst_param")):  # fmt: skip
            assert getattr(params, name) == float(row[column]), (preset, rate, name)
        assert (params.sup_eps, params.q) == (int(row["sup_eps"]), float(row["q"]))
    assert params.lr_inst_param != round(params.lr_inst_param, 3)  # not the four-figure value
