"""CIFAR-10 WRN-28-10 epoch time and GPU utilisation on a CUDA device (run by hand; no download needed).

The DiscrimLoss CIFAR recipe trains a WideResNet-28-10 with batch size 128 on 50 000 32×32 images. This
script times that training step on CIFAR-10-shaped random data kept on the GPU (the data loading of the
real set is not what is measured), extrapolates one epoch from the steady-state step time (CUDA events),
and samples the GPU utilisation with ``torch.cuda.utilization()`` (NVML) while it trains. Without a CUDA
device it prints ``skipped: no CUDA device``.

Usage::

    python -m benchmark.perf.gpu [--steps 60] [--batch-size 128] [--amp]
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import torch
import torch.nn.functional as F

from benchmark.perf.figure import Figure

__all__ = ["gpu_figures", "main", "run_gpu_benchmark"]

N_TRAIN = 50_000  # CIFAR-10 training images


def _sample_utilisation(stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        try:
            out.append(float(torch.cuda.utilization()))
        except Exception:  # NVML missing: utilisation is then unknown
            return
        time.sleep(0.1)


def _timing_event() -> Any:
    """A CUDA event that records time (torch's ``Event`` constructor carries no type hints)."""
    event: Any = torch.cuda.Event
    return event(enable_timing=True)


def run_gpu_benchmark(steps: int | None = None, batch_size: int = 128, amp: bool = False) -> dict[str, Any]:
    """Time WRN-28-10 training steps on CUDA; ``{"skipped": reason}`` without a CUDA device."""
    if not torch.cuda.is_available():
        return {"skipped": "skipped: no CUDA device"}
    from benchmark.models import build_model
    from benchmark.registry import load_builtin_components

    load_builtin_components()
    steps = steps or 60
    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    model = build_model("wrn-28-10", (3, 32, 32), 10).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    gen = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(batch_size, 3, 32, 32, device=dev, generator=gen).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=dev, generator=gen)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        opt.step()

    for _ in range(10):  # warm-up: cudnn autotuning, allocator
        step()
    torch.cuda.synchronize()
    util: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_utilisation, args=(stop, util), daemon=True)
    start, end = _timing_event(), _timing_event()
    sampler.start()
    start.record()
    for _ in range(steps):
        step()
    end.record()
    torch.cuda.synchronize()
    stop.set()
    sampler.join()
    step_s = start.elapsed_time(end) / 1000.0 / steps
    return {
        "device": torch.cuda.get_device_name(0),
        "batch_size": batch_size,
        "amp": amp,
        "steps": steps,
        "step_s": step_s,
        "epoch_s": step_s * (N_TRAIN / batch_size),
        "utilisation": float(sum(util) / len(util)) if util else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
    }


def gpu_figures(quick: bool = False) -> list[Figure]:
    """CIFAR-10 WRN-28-10 epoch time and GPU utilisation; skipped without CUDA."""
    res = run_gpu_benchmark(steps=20 if quick else None)
    if res.get("skipped"):
        return [Figure("gpu/wrn_epoch", None, None, "<=", "s", res["skipped"])]
    note = f"{res['device']}, bs {res['batch_size']}, synthetic CIFAR-10-shaped data"
    return [
        Figure("gpu/wrn_epoch", res["epoch_s"], None, "<=", "s", note),
        Figure("gpu/utilisation", res["utilisation"], None, "<=", "%", note),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast")
    args = parser.parse_args()
    res = run_gpu_benchmark(args.steps, args.batch_size, args.amp)
    if "skipped" in res:
        print(res["skipped"])
        return
    util = "unknown" if res["utilisation"] is None else f"{res['utilisation']:.0f}%"
    print(f"{res['device']}: WRN-28-10, batch {res['batch_size']}, amp {res['amp']}")
    print(f"  step {res['step_s'] * 1000:.1f} ms, epoch (50k images) {res['epoch_s']:.1f} s")
    print(f"  GPU utilisation {util}, peak memory {res['peak_memory_gib']:.1f} GiB")


if __name__ == "__main__":
    main()
