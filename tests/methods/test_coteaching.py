"""Co-teaching: peer selection (through the gradients), the keep-rate schedule, reductions, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _method_harness import N_CLASSES, build, make_ctx

from baselines.coteaching import keep_rate
from benchmark.errors import HyperparameterError

B = 10


def _outputs(seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    outputs = [
        torch.randn(B, N_CLASSES, generator=gen, dtype=torch.float64).requires_grad_(True) for _ in range(2)
    ]
    return outputs, torch.randint(0, N_CLASSES, (B,), generator=gen)


def _kept_by(logits: torch.Tensor, y: torch.Tensor, n_keep: int) -> set[int]:
    """Independent selection: the n_keep smallest CE losses, by numpy's sort."""
    losses = F.cross_entropy(logits.detach(), y, reduction="none").numpy()
    return set(np.argsort(losses, kind="stable")[:n_keep].tolist())


def test_paper_keep_rate_schedule() -> None:
    values = [keep_rate(t, 0.4, 10, 1.0) for t in (0, 1, 5, 10, 20)]
    np.testing.assert_allclose(values, [1.0, 0.96, 0.8, 0.6, 0.6], rtol=1e-15)
    np.testing.assert_allclose(
        [keep_rate(5, 0.4, 10, 2.0), keep_rate(5, 0.4, 10, 0.5)], [0.9, 1 - 0.4 * 0.5**0.5]
    )


def test_official_keep_rate_schedule_is_the_linspace_ramp() -> None:
    ramp = 1 - np.linspace(0, 0.4, 10)
    np.testing.assert_allclose([keep_rate(t, 0.4, 10, 1.0, "official") for t in range(10)], ramp, rtol=1e-15)
    assert keep_rate(10, 0.4, 10, 1.0, "official") == pytest.approx(0.6)


@pytest.mark.parametrize("epoch", [0, 3, 12])
def test_each_network_learns_only_from_its_peers_selection(epoch: int) -> None:
    method = build("coteaching", make_ctx(noise_rate=0.5))
    outputs, y = _outputs()
    n_keep = int(keep_rate(epoch, 0.5, 10, 1.0) * B)  # official int() rounding
    assert n_keep == {0: 10, 3: 8, 12: 5}[epoch]
    step = method.loss(outputs, y, torch.arange(B), epoch)
    step.objective().backward()
    for m, peer in ((0, 1), (1, 0)):
        peer_kept = _kept_by(outputs[peer], y, n_keep)
        touched = set(torch.nonzero(outputs[m].grad.abs().sum(1)).flatten().tolist())
        assert touched == peer_kept
        ce = F.cross_entropy(outputs[m].detach(), y, reduction="none")
        # the engine's batch mean equals the mean CE over the peer's kept samples
        assert float(step.per_sample[m].detach().mean()) == pytest.approx(
            float(ce[sorted(peer_kept)].mean()), rel=1e-14
        )
    if epoch == 12:
        assert _kept_by(outputs[0], y, n_keep) != _kept_by(
            outputs[1], y, n_keep
        )  # the test can tell peers apart


def test_official_reduction_divides_again_by_n_keep() -> None:
    outputs, y = _outputs(1)
    mean = build("coteaching", make_ctx(noise_rate=0.5)).loss(outputs, y, torch.arange(B), 12)
    official = build("coteaching", make_ctx(noise_rate=0.5), reduction="official").loss(
        outputs, y, torch.arange(B), 12
    )
    torch.testing.assert_close(official.per_sample, mean.per_sample / 5, rtol=1e-15, atol=0)


def test_sample_weights_record_the_fraction_of_networks_that_kept_each_sample() -> None:
    method = build("coteaching", make_ctx(noise_rate=0.5))
    outputs, y = _outputs(2)
    idx = torch.arange(B) + 1  # per-sample state is addressed by dataset index
    method.loss(outputs, y, idx, 12)
    expected = np.ones(12)  # samples 0 and 11 were not visited: weight 1
    kept = [_kept_by(outputs[net], y, 5) for net in range(2)]
    expected[1 : B + 1] = [((i in kept[0]) + (i in kept[1])) / 2 for i in range(B)]
    np.testing.assert_array_equal(method.sample_weights().numpy(), expected)


def test_forget_rate_defaults_and_sources() -> None:
    def used(ctx: object, **params: object) -> dict[str, object]:
        return build("coteaching", ctx, **params).resolved_values()

    ctx = make_ctx(noise_rate=0.4, realised_noise_rate=0.36)  # permute-block at 0.4 on 10 classes
    assert used(ctx) == {"forget_rate_used": 0.4, "forget_rate_source": "nominal"}
    assert used(ctx, forget_rate="nominal") == {"forget_rate_used": 0.4, "forget_rate_source": "nominal"}
    assert used(ctx, forget_rate="realised") == {"forget_rate_used": 0.36, "forget_rate_source": "realised"}
    assert used(ctx, forget_rate=0.3) == {"forget_rate_used": 0.3, "forget_rate_source": "fixed"}
    assert used(make_ctx(noise_rate=None)) == {"forget_rate_used": 0.2, "forget_rate_source": "default"}
    assert build("coteaching", ctx, forget_rate="realised").keep_rate(20) == pytest.approx(1 - 0.36)
    with pytest.raises(HyperparameterError, match="forget_rate='realised' needs the realised noise rate"):
        build("coteaching", make_ctx(), forget_rate="realised")
    with pytest.raises(
        HyperparameterError, match=r"^coteaching\.forget_rate='real': Input should be a number"
    ):
        build("coteaching", make_ctx(), forget_rate="real")


@pytest.mark.parametrize(
    ("rate", "message"), [(1.0, "less than 1"), (1.5, "less than 1"), (-0.1, "greater than or equal to 0")]
)
def test_bad_forget_rate_is_refused(rate: float, message: str) -> None:
    with pytest.raises(
        HyperparameterError, match=rf"^coteaching\.forget_rate={rate!r}: Input should be {message}"
    ):
        build("coteaching", make_ctx(), forget_rate=rate)


def test_noise_rate_of_one_cannot_be_the_forget_rate() -> None:
    with pytest.raises(
        HyperparameterError, match=r"coteaching\.forget_rate=None takes the nominal rate 1\.0.*< 1"
    ):
        build("coteaching", make_ctx(noise_rate=1.0))
