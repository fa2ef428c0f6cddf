"""Every model of the zoo builds, runs forward and backward on fixture-sized inputs, and matches the
paper's architecture where the spec fixes it (LeNet sizes, WRN-28-10 parameter count, DigitSum LSTM)."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from benchmark.errors import HyperparameterError
from benchmark.models import build_model
from benchmark.registry import MODELS

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
TINY_BERT = {
    "vocab_size": 30,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 16,
}


def _images(shape: tuple[int, ...]) -> Callable[[int], torch.Tensor]:
    return lambda b: torch.randn((b, *shape))


def _tokens(shape: tuple[int, ...], high: int) -> Callable[[int], torch.Tensor]:
    return lambda b: torch.randint(1, high, (b, *shape))


# name, input_shape, num_outputs, kwargs, input maker: one paper/fast recipe model per row
CASES: list[tuple[str, tuple[int, ...], int, dict[str, Any], Callable[[int], torch.Tensor]]] = [
    ("mlp", (1, 8, 8), 10, {"hidden": (16,)}, _images((1, 8, 8))),
    ("small-cnn", (1, 8, 8), 10, {"width": 4}, _images((1, 8, 8))),
    ("small-cnn", (1, 28, 28), 10, {"width": 4}, _images((1, 28, 28))),
    ("small-cnn", (3, 32, 32), 10, {"width": 4}, _images((3, 32, 32))),
    ("cnn1d", (1, 40), 10, {"width": 8}, _images((1, 40))),
    ("lenet", (1, 28, 28), 10, {}, _images((1, 28, 28))),
    ("wrn-28-10", (3, 32, 32), 10, {"depth": 10, "widen": 1}, _images((3, 32, 32))),
    ("resnet18", (3, 32, 32), 1, {}, _images((3, 32, 32))),
    ("resnet50", (3, 64, 64), 14, {}, _images((3, 64, 64))),
    ("lstm-digitsum", (20,), 1, {"hidden": 16}, _tokens((20,), 11)),
]
if HAS_TRANSFORMERS:
    CASES.append(("bert-mc", (4, 8), 4, {"config": TINY_BERT}, _tokens((4, 8), 30)))


def test_every_registered_model_has_a_case() -> None:
    expected = {
        "mlp", "small-cnn", "cnn1d", "lenet", "wrn-28-10", "resnet18", "resnet50", "lstm-digitsum", "bert-mc",
    }  # fmt: skip
    assert expected <= set(MODELS.names())
    skipped = set() if HAS_TRANSFORMERS else {"bert-mc"}
    assert expected - skipped - {c[0] for c in CASES} == set()


@pytest.mark.parametrize(
    ("name", "shape", "n_out", "kwargs", "make"), CASES, ids=[f"{c[0]}{c[1]}" for c in CASES]
)
def test_forward_backward(
    name: str, shape: tuple[int, ...], n_out: int, kwargs: dict[str, Any], make: Callable[[int], torch.Tensor]
) -> None:
    torch.manual_seed(0)
    model = build_model(name, shape, n_out, **kwargs)
    model.train()
    out = model(make(3))
    assert out.shape == (3, n_out)
    assert torch.isfinite(out).all()
    (out.float() ** 2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing


def test_lenet_matches_spec_c1() -> None:
    model = build_model("lenet", (1, 28, 28), 10)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 120), (120, 84), (84, 10)]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 6, (5, 5)),
        (6, 16, (5, 5)),
    ]
    # 156 + 2416 + 30840 + 10164 + 850, counted by hand
    assert sum(p.numel() for p in model.parameters()) == 44426


def test_wrn_28_10_matches_spec_c2() -> None:
    model = build_model("wrn-28-10", (3, 32, 32), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is not None for c in convs)  # conv biases on
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns[-1].momentum == 0.9 and all(b.momentum == 0.1 for b in bns[:-1])
    conv_bias = sum(c.bias.numel() for c in convs if c.bias is not None)
    # The WRN-28-10 CIFAR-10 size reported by Zagoruyko & Komodakis' code (36.5M, without conv biases).
    assert sum(p.numel() for p in model.parameters()) - conv_bias == 36_479_194
    assert sum(isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) for m in model.modules()) == 1 + 2 * 12


def test_resnet_heads() -> None:
    assert build_model("resnet18", (3, 32, 32), 1).fc.out_features == 1
    assert build_model("resnet50", (3, 64, 64), 14).fc.out_features == 14
    grey = build_model("resnet18", (1, 28, 28), 10)
    assert grey(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_resnet_pretrained_only_from_local_cache(tmp_path: Path) -> None:
    saved_dir = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        with pytest.warns(UserWarning, match="random initialisation"):
            build_model("resnet18", (3, 32, 32), 1, pretrained=True)
        import torchvision

        torch.manual_seed(1)
        reference = torchvision.models.resnet18(weights=None).state_dict()
        (tmp_path / "checkpoints").mkdir()
        torch.save(reference, tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = build_model("resnet18", (3, 32, 32), 1, pretrained=True)
        state = model.state_dict()
        assert torch.equal(state["layer4.1.conv2.weight"], reference["layer4.1.conv2.weight"])
        assert state["fc.weight"].shape == (1, 512)  # new head
    finally:
        torch.hub.set_dir(saved_dir)


def test_lstm_digitsum_structure_and_deterministic_eval() -> None:
    torch.manual_seed(0)
    model = build_model("lstm-digitsum", (20,), 1)
    assert model.embed.num_embeddings == 11 and model.embed.embedding_dim == 256
    assert model.lstm.num_layers == 1 and model.lstm.hidden_size == 256
    assert (model.head.in_features, model.head.out_features) == (256, 1)
    x = torch.randint(0, 11, (5, 20))
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.equal(a, b)  # zero initial states in eval
    assert (a >= 0).all()  # final ReLU
    model.train()
    with torch.no_grad():
        c, d = model(x), model(x)
    assert not torch.equal(c, d)  # random h0/c0 in training, as the reference


@pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers (the 'text' extra) is not installed")
def test_bert_mc_accepts_stacked_inputs() -> None:
    torch.manual_seed(0)
    model = build_model("bert-mc", (4, 8), 4, config=TINY_BERT)
    ids = torch.randint(1, 30, (2, 4, 8))
    stacked = torch.stack([ids, torch.ones_like(ids), torch.zeros_like(ids)], dim=1)  # (B, 3, choices, L)
    model.eval()
    assert torch.allclose(model(ids), model(stacked))


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        (
            "mlp",
            {"width": 3},
            r"recipe\.model_kwargs\.width is not an option of model 'mlp' \(allowed: hidden, dropout\)",
        ),
        ("wrn-28-10", {"depth": 11}, r"depth must be 6n\+4"),
        ("lstm-digitsum", {"train_state": "noisy"}, r"train_state must be 'random' or 'zero', got 'noisy'"),
        ("lstm-digitsum", {"output_scale": 0.0}, r"output_scale must be a positive number, got 0.0"),
        ("lenet", {}, r"at least 16×16"),
    ],
)
def test_bad_model_options_are_one_line_errors(name: str, kwargs: dict[str, Any], match: str) -> None:
    shape = (1, 8, 8) if name == "lenet" else (3, 32, 32) if name != "lstm-digitsum" else (20,)
    with pytest.raises(HyperparameterError, match=match):
        build_model(name, shape, 1 if name == "lstm-digitsum" else 10, **kwargs)


def test_lstm_digitsum_output_scale_multiplies_the_head_before_the_relu() -> None:
    torch.manual_seed(0)
    plain = build_model("lstm-digitsum", (6,), 1, hidden=8)
    scaled = build_model("lstm-digitsum", (6,), 1, hidden=8, output_scale=90.0)
    scaled.load_state_dict(plain.state_dict())
    plain.eval(), scaled.eval()
    x = torch.randint(0, 11, (7, 6))
    with torch.no_grad():
        head = plain.head(plain.lstm(plain.embed(x))[1][0][-1])
        assert torch.allclose(scaled(x), torch.relu(head * 90.0))
        assert torch.allclose(plain(x), torch.relu(head))
