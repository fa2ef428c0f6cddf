"""The epoch record (``benchmark.engine.step_record``) against the per-step operations it replaces:
the same predicted classes, loss areas and mean objective, bit for bit, for permutations, duplicate
indices and every flush boundary; the in-order sum against a float32 running total."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.engine.step_record import EpochRecord, sum_in_order

N, C = 23, 5


def steps(seed: int, permutation: bool, batch: int, dtype: torch.dtype) -> list[tuple[torch.Tensor, ...]]:
    """(idx, logits, task losses (2, B), objective) per step over one epoch of N samples."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(N, generator=gen) if permutation else torch.randint(0, N, (N,), generator=gen)
    out = []
    for idx in torch.split(order, batch):
        logits = torch.randn(len(idx), C, generator=gen, dtype=dtype)
        losses = torch.rand(2, len(idx), generator=gen, dtype=dtype) * 3
        objective = losses[0].mean() + torch.rand((), generator=gen, dtype=dtype)
        out.append((idx, logits, losses, objective))
    return out


def per_step(epoch: list[tuple[torch.Tensor, ...]], area_before: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What the engine computed before the record: an argmax, an index write, an index_add and an add
    per step."""
    predictions = torch.full((N,), -1, dtype=torch.long)
    area = torch.zeros(N, dtype=epoch[0][2].dtype)
    total = torch.zeros((), dtype=epoch[0][3].dtype)
    for idx, logits, losses, objective in epoch:
        predictions[idx] = logits.argmax(dim=1)
        area.index_add_(0, idx, losses[0])
        total += objective
    return predictions, area_before + area.to(torch.float64), total


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    permutation=st.booleans(),
    batch=st.integers(1, N),
    flush=st.integers(1, 200),
    double=st.booleans(),
)
def test_record_matches_the_per_step_operations(
    seed: int, permutation: bool, batch: int, flush: int, double: bool
) -> None:
    dtype = torch.float64 if double else torch.float32
    epoch = steps(seed, permutation, batch, dtype)
    area_before = torch.rand(N, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    want_pred, want_area, want_total = per_step(epoch, area_before.clone())

    predictions = torch.full((N,), -1, dtype=torch.long)
    area = area_before.clone()
    record = EpochRecord(predictions, area, flush_elements=flush)
    for idx, logits, losses, objective in epoch:
        record.add(idx, logits, losses, objective)
    mean = record.close()

    assert torch.equal(predictions, want_pred)
    assert torch.equal(area, want_area)
    assert mean == float(want_total) / len(epoch)


def test_record_without_predictions_and_of_tensors_in_a_graph_and_an_empty_epoch() -> None:
    """Without a predictions tensor only the losses and objectives count; tensors that require grad (a
    step's outputs before detaching) are recorded as detached values; an empty epoch's mean is 0."""
    area = torch.zeros(N, dtype=torch.float64)
    record = EpochRecord(None, area, flush_elements=3)  # logits kept would pass the bound and flush
    idx = torch.tensor([3, 1])
    logits = torch.randn(2, C, requires_grad=True)
    losses = torch.tensor([[2.0, 5.0]], requires_grad=True)
    record.add(idx, logits * 2, losses * 1, (losses * 1).mean() + 0.0)
    assert record._held == 2  # the two losses, no logits
    assert record.close() == 3.5
    assert area[3] == 2.0 and area[1] == 5.0 and area.sum() == 7.0 and not area.requires_grad
    assert EpochRecord(None, area).close() == 0.0 and area.sum() == 7.0


def test_held_values_are_flushed_at_the_bound() -> None:
    """Memory is bounded: logits are written once a chunk holds ``flush_elements`` values."""
    predictions = torch.full((N,), -1, dtype=torch.long)
    record = EpochRecord(predictions, torch.zeros(N, dtype=torch.float64), flush_elements=12)
    logits = torch.eye(C)[:2] * 5  # classes 0 and 1
    record.add(torch.tensor([0, 1]), logits, torch.ones(1, 2), torch.tensor(1.0))  # 2 + 10 values: flushed
    assert predictions[:2].tolist() == [0, 1]
    record.add(torch.tensor([2]), logits[:1], torch.ones(1, 1), torch.tensor(1.0))  # 6 values: held
    assert predictions[2] == -1
    record.close()
    assert predictions[2] == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_sum_in_order_is_a_running_float32_or_float64_total(dtype: torch.dtype) -> None:
    values = torch.tensor([1.0] + [1e-3] * 999 + [3.0, -2.5], dtype=dtype)
    running = torch.zeros((), dtype=torch.float64 if dtype == torch.float64 else torch.float32)
    for value in values:
        running += value  # as the engine's per-step total did (half precision summed in float32)
    assert sum_in_order(values) == float(running)
    if dtype == torch.float32:  # pairwise summation gives other bits here: the order is what is tested
        assert float(values.sum()) != float(running)
        assert float(np.float32(sum(np.float64(v) for v in values.numpy()))) != float(running)
    if dtype in (torch.float16, torch.bfloat16):  # not summed in the values' own low precision
        low = torch.zeros((), dtype=dtype)
        for value in values:
            low += value
        assert float(low) != float(running)
    assert sum_in_order(torch.zeros(0, dtype=dtype)) == 0.0
