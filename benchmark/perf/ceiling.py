"""The machine's own two-process ceiling: what ``--workers 2`` can gain here, right now."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

__all__ = ["epochs_per_second", "parallel_ceiling"]


def epochs_per_second(seconds: float, go: Callable[[], None] = lambda: None) -> float:
    """Training epochs per second of CE on digits with the quick preset's fast recipe, one thread, after
    one warm-up epoch; ``go`` is called (and may wait) between the set-up and the timed epochs."""
    import torch

    from benchmark.runs import RunSpec
    from benchmark.training import start_run

    torch.set_num_threads(1)
    spec = RunSpec(
        dataset="digits", noise="sym-excl", rate=0.4, method="ce", seed=0, device="cpu", epochs=1000
    )
    loop = start_run(spec)
    loop.train_epoch(0)
    go()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        loop.train_epoch(n + 1)
        n += 1
    return n / (time.perf_counter() - t0)


def _probe_main(seconds: float) -> None:
    """Child side of :func:`parallel_ceiling`: set up, say ``ready``, wait for a line, train, print."""

    def go() -> None:
        print("ready", flush=True)
        sys.stdin.readline()

    print(epochs_per_second(seconds, go=go), flush=True)


def _probe(processes: int, seconds: float) -> list[float]:
    """Epochs per second of ``processes`` copies of :func:`epochs_per_second` training at the same time."""
    code = f"from benchmark.perf.ceiling import _probe_main; _probe_main({seconds!r})"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        for _ in range(processes)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("the parallel-ceiling probe failed to start")
        for p in procs:  # all set up: start their timed epochs together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        return [float(p.communicate(timeout=seconds + 120)[0].strip()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def parallel_ceiling(seconds: float = 5.0) -> float:
    """How much more two processes train than one on this machine right now: the summed epochs per second
    of two copies of the same one-thread training over one copy alone. It bounds what ``--workers 2`` can
    gain; on a virtual machine whose cores other tenants share it moves between runs (1.67 to 2.06 here)."""
    solo = _probe(1, seconds)[0]
    return sum(_probe(2, seconds)) / solo
