"""Model zoo, registered in ``MODELS``: ``factory(input_shape, num_outputs, **model_kwargs) -> nn.Module``.

Models receive float inputs that the engine has already scaled and normalised (images) or int64 token
ids (DigitSum, multiple choice). Classification models return (B, C) logits; regression models return
(B, 1). Use :func:`build_model` to construct one: it validates the keyword arguments and turns a bad one
into a one-line :class:`HyperparameterError`.

References: LeNet, WRN-28-10, ResNet-18/50 and the DigitSum LSTM follow the DiscrimLoss protocol
(spec section c); the official repositories carry no licence, so the code here is written from the spec.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import DiscrimBenchError, HyperparameterError, did_you_mean
from benchmark.registry import MODELS

__all__ = [
    "CNN1D",
    "BertMultipleChoice",
    "DigitSumLSTM",
    "LeNet",
    "SmallCNN",
    "WideResNet",
    "build_model",
]

# torchvision's ImageNet checkpoints, looked up in the local torch hub cache only (never downloaded).
_IMAGENET_FILES = {"resnet18": "resnet18-f37072fd.pth", "resnet50": "resnet50-0676ba61.pth"}


def build_model(name: str, input_shape: Sequence[int], num_outputs: int, **kwargs: Any) -> nn.Module:
    """Build the model ``name`` after checking ``kwargs`` against its factory's keyword arguments.

    Raises:
        UnknownComponentError: ``name`` is not registered.
        HyperparameterError: a keyword is not accepted by the factory, or a value is out of range.
    """
    factory: Callable[..., nn.Module] = MODELS.get(name)
    params = inspect.signature(factory).parameters
    allowed = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    for key in kwargs:
        if key not in allowed:
            raise HyperparameterError(
                f"recipe.model_kwargs.{key} is not an option of model {name!r} "
                f"(allowed: {', '.join(allowed) if allowed else '(none)'}){did_you_mean(key, allowed)}"
            )
    if num_outputs < 1:
        raise HyperparameterError(f"model {name!r}: num_outputs must be >= 1, got {num_outputs}")
    try:
        return factory(tuple(int(s) for s in input_shape), int(num_outputs), **kwargs)
    except DiscrimBenchError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:
        raise HyperparameterError(f"model {name!r} cannot be built with {kwargs!r}: {exc}") from None


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise HyperparameterError(message)


# ---- small models for the embedded datasets ---------------------------------------------------


@MODELS.register("mlp", summary="multi-layer perceptron on flattened inputs (ReLU hidden layers)")
def mlp(
    input_shape: tuple[int, ...],
    num_outputs: int,
    *,
    hidden: Sequence[int] = (256, 256),
    dropout: float = 0.0,
) -> nn.Module:
    """An MLP: Flatten → [Linear → ReLU (→ Dropout)] × len(hidden) → Linear."""
    _require(0.0 <= dropout < 1.0, f"model mlp: dropout must satisfy 0 <= dropout < 1, got {dropout}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for h in hidden:
        _require(int(h) >= 1, f"model mlp: hidden sizes must be >= 1, got {list(hidden)}")
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(h)
    layers.append(nn.Linear(width, num_outputs))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Three 3×3 conv blocks and global average pooling: works on 8×8, 28×28 and 32×32 images alike."""

    def __init__(self, in_channels: int, num_outputs: int, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(4 * w, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_: torch.Tensor = self.head(self.features(x).flatten(1))
        return out_


@MODELS.register("small-cnn", summary="3-block CNN with global pooling for small images (8×8 to 32×32)")
def small_cnn(input_shape: tuple[int, ...], num_outputs: int, *, width: int = 32) -> nn.Module:
    """:class:`SmallCNN` with ``width`` channels in the first block (the fast recipe of image sets)."""
    _require(len(input_shape) == 3, f"model small-cnn needs (C, H, W) inputs, got input_shape={input_shape}")
    _require(width >= 1, f"model small-cnn: width must be >= 1, got {width}")
    return SmallCNN(input_shape[0], num_outputs, width)


class CNN1D(nn.Module):
    """A 1-D CNN for MNIST-1D (inputs (B, 1, 40) or (B, 40))."""

    def __init__(self, in_channels: int, length: int, num_outputs: int, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, width, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=1, stride=2),
            nn.ReLU(),
        )
        out_len = ((length + 1) // 2 + 1) // 2
        self.head = nn.Linear(width * out_len, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        out_: torch.Tensor = self.head(self.features(x).flatten(1))
        return out_


@MODELS.register("cnn1d", summary="1-D CNN for MNIST-1D sequences (1×40)")
def cnn1d(input_shape: tuple[int, ...], num_outputs: int, *, width: int = 32) -> nn.Module:
    """:class:`CNN1D` for (L,) or (C, L) inputs (MNIST-1D: (1, 40))."""
    _require(len(input_shape) in (1, 2), f"model cnn1d needs (L,) or (C, L) inputs, got {input_shape}")
    channels, length = (1, input_shape[0]) if len(input_shape) == 1 else input_shape
    return CNN1D(channels, length, num_outputs, width)


class LeNet(nn.Module):
    """LeNet-5 variant of the DiscrimLoss MNIST protocol (spec c.1).

    conv(1→6, 5) → ReLU → maxpool2 → conv(6→16, 5) → ReLU → maxpool2 → FC 256→120 → ReLU → FC 120→84 →
    ReLU → FC 84→C. The 256 is 16·4·4 for 28×28 inputs; other sizes get 16·h·w.
    """

    def __init__(self, input_shape: tuple[int, int, int], num_outputs: int) -> None:
        super().__init__()
        c, h, w = input_shape
        self.conv1 = nn.Conv2d(c, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        fh, fw = ((h - 4) // 2 - 4) // 2, ((w - 4) // 2 - 4) // 2
        _require(fh >= 1 and fw >= 1, f"model lenet needs images of at least 16×16, got {input_shape}")
        self.fc1 = nn.Linear(16 * fh * fw, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        out_: torch.Tensor = self.fc3(x)
        return out_


@MODELS.register("lenet", summary="LeNet-5 variant of the DiscrimLoss MNIST recipe (28×28)")
def lenet(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """:class:`LeNet` exactly as spec c.1 (fc1 has 256 inputs on 28×28 images)."""
    _require(len(input_shape) == 3, f"model lenet needs (C, H, W) inputs, got input_shape={input_shape}")
    return LeNet((input_shape[0], input_shape[1], input_shape[2]), num_outputs)


# ---- WideResNet (spec c.2) --------------------------------------------------------------------


class _WideBasic(nn.Module):
    """Pre-activation wide block: BN → ReLU → conv3×3 → BN → ReLU → conv3×3 (+ shortcut); conv biases on."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out_: torch.Tensor = out + self.shortcut(x)
        return out_


class WideResNet(nn.Module):
    """WRN-depth-width as in the DiscrimLoss CIFAR recipe: no dropout, conv biases, PyTorch default init,
    final BN with ``momentum=0.9`` (PyTorch semantics, kept as in the reference), 8×8 average pooling.

    The pooling is written as a global average, which equals the 8×8 pool on 32×32 inputs (the final map
    is 8×8) and keeps other input sizes usable.
    """

    def __init__(self, in_channels: int, num_outputs: int, depth: int = 28, widen: int = 10) -> None:
        super().__init__()
        n = (depth - 4) // 6
        stages = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(in_channels, stages[0], 3, padding=1, bias=True)
        blocks: list[nn.Module] = []
        in_planes = stages[0]
        for stage, stride in zip(stages[1:], (1, 2, 2), strict=True):
            for i in range(n):
                blocks.append(_WideBasic(in_planes, stage, stride if i == 0 else 1))
                in_planes = stage
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(stages[3], momentum=0.9)
        self.linear = nn.Linear(stages[3], num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.blocks(self.conv1(x))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        out_: torch.Tensor = self.linear(out)
        return out_


@MODELS.register("wrn-28-10", summary="WideResNet-28-10 of the DiscrimLoss CIFAR recipe (depth/widen kwargs)")
def wrn_28_10(
    input_shape: tuple[int, ...], num_outputs: int, *, depth: int = 28, widen: int = 10
) -> nn.Module:
    """:class:`WideResNet` (spec c.2); ``depth``/``widen`` exist so that tests can build a tiny one."""
    _require(
        depth >= 10 and (depth - 4) % 6 == 0, f"model wrn-28-10: depth must be 6n+4 with n >= 1, got {depth}"
    )
    _require(widen >= 1, f"model wrn-28-10: widen must be >= 1, got {widen}")
    _require(len(input_shape) == 3, f"model wrn-28-10 needs (C, H, W) inputs, got input_shape={input_shape}")
    return WideResNet(input_shape[0], num_outputs, depth, widen)


# ---- torchvision ResNets ----------------------------------------------------------------------


def _local_imagenet_state(arch: str) -> dict[str, torch.Tensor] | None:
    """The ImageNet checkpoint of ``arch`` from the torch hub cache, or None (never downloads)."""
    path = os.path.join(torch.hub.get_dir(), "checkpoints", _IMAGENET_FILES[arch])
    if not os.path.isfile(path):
        return None
    state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu", weights_only=True)
    return state


def _torchvision_resnet(
    arch: str, input_shape: tuple[int, ...], num_outputs: int, pretrained: bool
) -> nn.Module:
    import torchvision

    _require(len(input_shape) == 3, f"model {arch} needs (C, H, W) inputs, got input_shape={input_shape}")
    net: nn.Module = getattr(torchvision.models, arch)(weights=None)
    if pretrained:
        state = _local_imagenet_state(arch)
        if state is None:
            warnings.warn(
                f"{arch}: pretrained=True but {_IMAGENET_FILES[arch]} is not in "
                f"{os.path.join(torch.hub.get_dir(), 'checkpoints')}; using random initialisation "
                "(DiscrimBench never downloads weights)",
                stacklevel=3,
            )
        else:
            net.load_state_dict(state)
    if input_shape[0] != 3:  # grey-scale or other channel counts: a fresh stem
        net.conv1 = nn.Conv2d(input_shape[0], 64, 7, stride=2, padding=3, bias=False)
    old_head = net.fc
    assert isinstance(old_head, nn.Linear)
    net.fc = nn.Linear(old_head.in_features, num_outputs)  # new head, random init (the reference's fc_new)
    return net


@MODELS.register("resnet18", summary="torchvision ResNet-18 (ImageNet weights only from the local cache)")
def resnet18(input_shape: tuple[int, ...], num_outputs: int, *, pretrained: bool = False) -> nn.Module:
    """ResNet-18 with a new ``num_outputs`` head (1 output for UTKFace age regression)."""
    return _torchvision_resnet("resnet18", input_shape, num_outputs, pretrained)


@MODELS.register("resnet50", summary="torchvision ResNet-50 (Clothing1M: 14-way head)")
def resnet50(input_shape: tuple[int, ...], num_outputs: int, *, pretrained: bool = False) -> nn.Module:
    """ResNet-50 with a new ``num_outputs`` head (14 for Clothing1M)."""
    return _torchvision_resnet("resnet50", input_shape, num_outputs, pretrained)


# ---- DigitSum LSTM (spec c.4) -----------------------------------------------------------------


class DigitSumLSTM(nn.Module):
    """Embedding(vocab, 256) → 1-layer LSTM(256) → last hidden state → Linear(256→1) → ×scale → ReLU.

    ``output_scale`` multiplies the head's output (1 in the paper): with it the head learns targets of order
    one, as if they were divided by the scale, while the loss stays in the targets' own units. Without it an
    Adam step moves the output by about lr, so at the fast recipe's lr the head needs thousands of steps to
    reach sums of order 100 and the model ends predicting the training mean (docs/recipes.md, section 5).

    The reference draws h0 and c0 from N(0, 1) at every forward, evaluation included, which makes its
    predictions stochastic (spec f.12). Here training keeps the random states (``train_state="random"``,
    drawn from the global torch RNG, which the engine seeds from the run's order stream) and evaluation
    always starts from zero states, so evaluation is deterministic. Input: (B, L) int64 token ids.
    """

    def __init__(
        self, vocab: int = 11, hidden: int = 256, train_state: str = "random", output_scale: float = 1.0
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.train_state = train_state
        self.output_scale = output_scale
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=1, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        emb = self.embed(x.long())
        shape = (1, emb.shape[0], self.hidden)
        if self.training and self.train_state == "random":
            h0 = torch.randn(shape, device=emb.device, dtype=emb.dtype)
            c0 = torch.randn(shape, device=emb.device, dtype=emb.dtype)
        else:
            h0 = emb.new_zeros(shape)
            c0 = emb.new_zeros(shape)
        _, (h_n, _) = self.lstm(emb, (h0, c0))
        return F.relu(self.head(h_n[-1]) * self.output_scale)


@MODELS.register("lstm-digitsum", summary="DigitSum LSTM regressor: Embedding → LSTM(256) → Linear → ReLU")
def lstm_digitsum(
    input_shape: tuple[int, ...],
    num_outputs: int,
    *,
    vocab: int = 11,
    hidden: int = 256,
    train_state: str = "random",
    output_scale: float = 1.0,
) -> nn.Module:
    """:class:`DigitSumLSTM` (spec c.4); ``train_state="zero"`` also drops the random states in training;
    ``output_scale`` the head's output multiplier (the fast recipe's target scale)."""
    _require(
        num_outputs == 1, f"model lstm-digitsum is a regressor (1 output), got num_outputs={num_outputs}"
    )
    _require(
        train_state in ("random", "zero"),
        f"model lstm-digitsum: train_state must be 'random' or 'zero', got {train_state!r}",
    )
    _require(
        hidden >= 1 and vocab >= 2, f"model lstm-digitsum: need hidden >= 1, vocab >= 2 ({hidden}, {vocab})"
    )
    _require(
        math.isfinite(output_scale) and output_scale > 0,
        f"model lstm-digitsum: output_scale must be a positive number, got {output_scale}",
    )
    return DigitSumLSTM(vocab, hidden, train_state, float(output_scale))


# ---- BERT multiple choice (spec c.5) ----------------------------------------------------------


class BertMultipleChoice(nn.Module):
    """Wraps transformers' ``BertForMultipleChoice`` so that it maps one tensor to (B, choices) logits.

    Input: (B, choices, L) int64 token ids (attention mask = ids != ``pad_token_id``), or
    (B, 3, choices, L) stacking ids, attention mask and token-type ids (the WikiHow adapter's layout).
    """

    def __init__(self, model: nn.Module, pad_token_id: int) -> None:
        super().__init__()
        self.model = model
        self.pad_token_id = pad_token_id

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.long()
        if x.dim() == 4:
            ids, mask, types = (x[:, i].contiguous() for i in range(3))
        else:
            ids, mask, types = x, (x != self.pad_token_id).long(), torch.zeros_like(x)
        out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        logits: torch.Tensor = out.logits
        return logits


@MODELS.register("bert-mc", summary="BERT multiple-choice model (transformers, optional 'text' extra)")
def bert_mc(
    input_shape: tuple[int, ...],
    num_outputs: int,
    *,
    pretrained: str | None = None,
    config: dict[str, Any] | None = None,
) -> nn.Module:
    """A BERT multiple-choice model: from a local checkpoint ``pretrained`` (never downloaded) or built
    from ``config`` (``transformers.BertConfig`` keyword arguments; bert-base sizes when empty)."""
    try:
        import transformers
    except ImportError:
        raise HyperparameterError(
            "model bert-mc needs the 'transformers' package: pip install 'discrimbench[text]'"
        ) from None
    _require(
        len(input_shape) in (2, 3),
        f"model bert-mc needs (choices, L) or (3, choices, L) inputs, got {input_shape}",
    )
    choices = input_shape[-2]
    _require(
        choices == num_outputs,
        f"model bert-mc: num_outputs must equal the number of choices {choices}, got {num_outputs}",
    )
    if pretrained is not None:
        try:
            model = transformers.BertForMultipleChoice.from_pretrained(pretrained, local_files_only=True)
        except OSError as exc:
            raise HyperparameterError(
                f"model bert-mc: pretrained={pretrained!r} is not available locally "
                f"({exc.__class__.__name__}); DiscrimBench never downloads weights"
            ) from None
    else:
        try:
            cfg = transformers.BertConfig(**(config or {}))
        except TypeError as exc:
            raise HyperparameterError(f"model bert-mc: bad config {config!r}: {exc}") from None
        model = transformers.BertForMultipleChoice(cfg)
    return BertMultipleChoice(model, int(model.config.pad_token_id or 0))
