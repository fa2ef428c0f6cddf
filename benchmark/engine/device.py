"""Device choice and peak-memory measurement."""

from __future__ import annotations

import resource
import sys

import torch

from benchmark.errors import HyperparameterError

__all__ = ["peak_memory_mb", "reset_peak_memory", "resolve_device"]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → cuda if available, else cpu; ``"cpu"``, ``"cuda"``, ``"cuda:i"`` as given.

    Raises:
        HyperparameterError: the name is not a device, or CUDA is asked for but not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise HyperparameterError(
            f"device={name!r} is not a device (allowed: auto, cpu, cuda, cuda:N)"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise HyperparameterError(f"device={name!r} is not supported (allowed: auto, cpu, cuda, cuda:N)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HyperparameterError(
            f"device={name!r} was asked for but CUDA is not available (use auto or cpu)"
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise HyperparameterError(
            f"device={name!r}: only {torch.cuda.device_count()} CUDA device(s) are visible"
        )
    return device


def reset_peak_memory(device: torch.device) -> None:
    """Start a fresh peak-memory window on CUDA (the CPU peak, ru_maxrss, cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory in MiB: allocated CUDA memory on CUDA, else the process's maximum resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux
