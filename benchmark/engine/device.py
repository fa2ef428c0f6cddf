"""Device choice, peak-memory measurement, and the CPU allocator setting for training."""

from __future__ import annotations

import ctypes
import os
import resource
import sys

import torch

from benchmark.errors import HyperparameterError

__all__ = ["keep_freed_memory", "peak_memory_mb", "reset_peak_memory", "resolve_device"]

_MMAP_THRESHOLD = 64 * 2**20  # allocations below this come from the heap (glibc's own cap is 32 MiB)
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD  # the ratio glibc keeps when it adjusts the threshold itself
_allocator_set = False


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


def keep_freed_memory() -> bool:
    """Have glibc keep freed tensor memory for reuse instead of unmapping it, for CPU training.

    glibc serves an allocation above its mmap threshold (128 KiB at first, then adjusted) with a fresh
    ``mmap`` and unmaps it when freed, so a CPU model whose activations are a few hundred KiB can
    page-fault on every step. With the thresholds raised, freed blocks stay in the heap and are reused.
    Measured here (digits, small-cnn, batch 128, one thread; medians of 30 epochs, three processes each
    way, alternating): a Co-teaching epoch 0.200 s → 0.183 s and Co-teaching/CE 2.17 → 1.98, a CE epoch
    unchanged within the noise (0.092 s). Numerics are untouched.

    Once per process; Linux with glibc only. Leaves the allocator alone where the user has set
    ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_``.

    Returns:
        True when the thresholds were set by this call.
    """
    global _allocator_set
    if _allocator_set or not sys.platform.startswith("linux"):
        return False
    if any(os.environ.get(name) for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    _allocator_set = True
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, _MMAP_THRESHOLD)) and bool(
        mallopt(m_trim_threshold, _TRIM_THRESHOLD)
    )
