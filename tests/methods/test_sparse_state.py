"""Per-sample state in O(batch): DiscrimLoss's row-wise update equals the dense O(N) update bit for bit.

The oracle is the update as it was before (and as the official ``optimizer/sparse_sgd.py`` runs it):
log σ is one N-long leaf, autograd materialises its dense gradient, momentum SGD runs over all N entries
and restores those with a zero gradient, and all N entries are clamped after every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from baselines._sparse_sgd import sparse_sgd_rows
from baselines.discrimloss import DiscrimLoss
from benchmark.method import MethodContext, StepLoss

N, FEATURES, CLASSES, BATCH, EPOCHS = 40, 6, 4, 8, 6
MODEL_LR = 0.05


class DenseDiscrimLoss(DiscrimLoss):
    """DiscrimLoss as it was written before the row update (the oracle): one N-long leaf for log σ whose
    dense gradient autograd forms (the regulariser's included), plain Python constants, momentum SGD
    over all N entries and a clamp of all N entries after every step."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.leaf = self.s.clone().requires_grad_()

    def loss(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor, idx: torch.Tensor, epoch: int
    ) -> StepLoss:
        ell = self.task_loss(outputs[0], targets)
        beta = self.p.beta
        m = beta * self.exp_avg[idx].to(ell.dtype) + (1.0 - beta) * ell
        self.exp_avg[idx] = m.detach().to(self.exp_avg.dtype)
        l_hat = m / (1.0 - beta ** (epoch + 1))
        k = self.threshold.update(l_hat.detach()).to(ell.dtype)
        s = self.leaf[idx]
        d = self.es(epoch) * (l_hat - self.gamma(epoch) * k) * torch.exp(-s).to(ell.dtype)
        regulariser = 0.5 * self.p.wd_inst_param * (s**2).sum().to(ell.dtype)
        return StepLoss.one_model(d, ell.detach(), regulariser)

    @torch.no_grad()
    def after_step(self) -> None:
        grad = self.leaf.grad
        assert grad is not None
        active = grad != 0
        new_buf = self.p.inst_momentum * self.momentum + grad
        self.momentum.copy_(torch.where(active, new_buf, self.momentum))
        self.leaf.copy_(torch.where(active, self.leaf - self.p.lr_inst_param * new_buf, self.leaf))
        self.leaf.clamp_(*self.clamp_bounds)
        self.leaf.grad = None
        self.s.copy_(self.leaf)


PARAMS = {  # ES 0.1, 0.2, 0.3 then 1 (a jump); γ switches (1 → 1.1) around epoch 2
    "clamp_min": 0.07855, "lr_inst_param": 400.0, "sup_eps": 3, "es_type": "linear", "a": 0.05,
    "p": 1.2, "q": 2, "wd_inst_param": 0.01,
}  # fmt: skip


def batches(epoch: int, duplicates: bool) -> list[torch.Tensor]:
    """An epoch permutation; with ``duplicates``, batches drawn with replacement (rows repeat)."""
    gen = torch.Generator().manual_seed(100 + epoch)
    if duplicates:
        return list(torch.randint(0, N // 2, (N // BATCH, BATCH), generator=gen))
    return list(torch.split(torch.randperm(N, generator=gen), BATCH))


def train(
    cls: type[DiscrimLoss],
    params: dict[str, Any],
    duplicates: bool,
    distinct_rows: bool = False,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Any]:
    ctx = MethodContext(
        task="classification", num_classes=CLASSES, n_train=N, epochs=EPOCHS, distinct_rows=distinct_rows
    )
    method = cls(cls.make_params(params), ctx)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(N, FEATURES, generator=gen), torch.randint(0, CLASSES, (N,), generator=gen)
    torch.manual_seed(1)
    model = torch.nn.Linear(FEATURES, CLASSES).to(dtype)
    x = x.to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=MODEL_LR)
    losses = []
    for epoch in range(EPOCHS):
        for idx in batches(epoch, duplicates):
            step = method.loss([model(x[idx])], y[idx], idx, epoch)
            opt.zero_grad()
            step.objective().backward()
            opt.step()
            method.after_step()
            losses.append(step.per_sample.detach())
    state = method.state_dict()
    return {"losses": torch.cat(losses), **state, "weights": list(model.parameters())}


@pytest.mark.parametrize(
    ("duplicates", "distinct_rows"),
    [(False, True), (False, False), (True, False)],
    ids=["permutation-declared-distinct", "permutation", "duplicate-indices"],
)
@pytest.mark.parametrize("space", ["log", "sigma"])
def test_row_update_equals_dense_update_bit_for_bit(
    duplicates: bool, distinct_rows: bool, space: str
) -> None:
    """Over six epochs with ES and γ switches and a regulariser (wd = 0.01) large enough to matter; rows
    declared distinct (the engine's batches) skip the summing of repeated rows."""
    params = {**PARAMS, "clamp_space": space, "clamp_min": 0.07855 if space == "log" else 0.5}
    ours = train(DiscrimLoss, params, duplicates, distinct_rows)
    oracle = train(DenseDiscrimLoss, params, duplicates)
    for key in ("losses", "exp_avg", "s", "momentum", "k"):
        assert torch.equal(ours[key], oracle[key]), key
    for a, b in zip(ours["weights"], oracle["weights"], strict=True):
        assert torch.equal(a, b)
    low = 0.07855 if space == "log" else torch.tensor(0.5).log()
    assert (ours["s"] == low).any()  # the lower clamp was active ...
    assert (ours["s"] > low).any()  # ... and some rows moved up (the test exercises the update)
    assert (ours["s"] == torch.tensor(20.0).log()).any()  # and the upper bound ln 20 was reached


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64], ids=str)
def test_a_loss_in_another_dtype_than_the_state_matches_the_dense_oracle(dtype: torch.dtype) -> None:
    """The model's dtype differs from the float32 state: bfloat16 takes the Python-number constants and the
    regulariser through autograd; float64 the tensor constants and the hand-added regulariser gradient."""
    ours, oracle = (
        train(DiscrimLoss, PARAMS, False, True, dtype),
        train(DenseDiscrimLoss, PARAMS, False, dtype=dtype),
    )
    for key in ("losses", "exp_avg", "s", "momentum", "k"):
        assert torch.equal(ours[key], oracle[key]), key
    assert ours["losses"].dtype == dtype


def test_duplicate_rows_receive_their_summed_gradient_once() -> None:
    """Row 2 appears three times: one step with the sum of its three gradients, as the dense path."""
    param = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.5])
    buf = torch.tensor([0.0, 1.0, 2.0, 0.0, 3.0])
    scratch = torch.zeros(5)
    idx = torch.tensor([2, 0, 2, 4, 2])
    grad = torch.tensor([0.25, 0.0, 0.5, 1.0, -0.125])
    sparse_sgd_rows(param, buf, idx, grad, lr=0.5, momentum=0.5, scratch=scratch, bounds=(-1.0, 1.0))
    # row 2: g = 0.625, buf 0.5·2 + 0.625 = 1.625, param 0.5 − 0.8125; row 0: g = 0, untouched;
    # row 4: buf 0.5·3 + 1 = 2.5, param 0.5 − 1.25; rows 1, 3 untouched (all exact in binary)
    assert torch.equal(buf, torch.tensor([0.0, 1.0, 1.625, 0.0, 2.5]))
    assert torch.equal(param, torch.tensor([0.5, 0.5, -0.3125, 0.5, -0.75]))
    assert torch.equal(scratch, torch.zeros(5))  # left all zeros for the next step


def test_clamp_applies_to_the_updated_rows() -> None:
    param, buf, scratch = torch.tensor([0.5, 0.5]), torch.zeros(2), torch.zeros(2)
    sparse_sgd_rows(param, buf, torch.tensor([1]), torch.tensor([-100.0]), 1.0, 0.9, scratch, (0.0, 3.0))
    assert torch.equal(param, torch.tensor([0.5, 3.0]))


class LargestOutput(TorchDispatchMode):
    """Records the largest tensor an out-of-place op creates (in-place ops return their input)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if not func._schema.name.endswith("_"):
            for t in out if isinstance(out, tuple | list) else [out]:
                if isinstance(t, torch.Tensor):
                    self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("cls", [DiscrimLoss, DenseDiscrimLoss], ids=["rows", "dense-oracle"])
def test_a_step_creates_no_tensor_of_length_n(cls: type[DiscrimLoss]) -> None:
    """After the first step, loss + backward + after_step create tensors of batch size only (the dense
    oracle, which creates an N-long gradient, shows that the check can fail)."""
    n = 100_000
    ctx = MethodContext(task="classification", num_classes=CLASSES, n_train=n, epochs=2)
    method = cls(cls.make_params(PARAMS), ctx)
    logits = torch.randn(BATCH, CLASSES, requires_grad=True)
    y = torch.randint(0, CLASSES, (BATCH,))
    for step in range(2):
        idx = torch.randint(0, n, (BATCH,))
        with LargestOutput() as probe:
            method.loss([logits], y, idx, step).objective().backward()
            method.after_step()
    assert (probe.largest < n) is (cls is DiscrimLoss)
