"""Writing a figure's PNG and PDF, inline or in helper processes while the report builds the next figure.

Rendering is most of a report's time (the quick study's 15 figures: about 9 of its 12 seconds went into 30
``savefig`` calls) and runs on one core, while the study's workers have ended and the other cores idle.
Inside :func:`saving_in_background` a figure is pickled to a temporary file (a matplotlib ``Figure``
pickles with every artist; the PNG of an unpickled figure equals the original's, pixel for pixel) and
rendered by helper processes, ``python -m benchmark.figure_writer``, that import matplotlib only.
They are plain subprocesses, not ``multiprocessing`` workers, so a caller's unguarded script is never
imported again in them. Leaving the block waits for every file and raises the first error, so a report
page is written only when all its figures are.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from matplotlib.figure import Figure

from benchmark.errors import OutputError

__all__ = ["save", "saving_in_background"]


def _write(fig: Figure, png: Path, pdf: Path) -> None:
    fig.savefig(png, dpi=150)
    fig.savefig(pdf)


@dataclass
class _Helpers:
    """Helper processes, each fed one line per figure: the pickle's path, the PNG's and the PDF's."""

    folder: Path
    procs: list[subprocess.Popen[str]]
    sent: int = 0
    errors: list[str] = field(default_factory=list)

    def submit(self, fig: Figure, png: Path, pdf: Path) -> None:
        pickled = self.folder / f"{self.sent}.pickle"
        pickled.write_bytes(pickle.dumps(fig))
        stdin = self.procs[self.sent % len(self.procs)].stdin
        assert stdin is not None
        stdin.write("\t".join(str(p) for p in (pickled, png, pdf)) + "\n")
        stdin.flush()
        self.sent += 1

    def finish(self) -> None:
        """Wait for every helper; raise the first error one reported."""
        for proc in self.procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                lines = [ln for ln in err.splitlines() if ln.strip()]
                self.errors.append(lines[-1] if lines else f"figure writer exited with {proc.returncode}")
        if self.errors:
            raise OutputError(f"could not write a figure: {self.errors[0]}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


_ACTIVE: ContextVar[_Helpers | None] = ContextVar("figure_helpers", default=None)


def save(fig: Figure, folder: Path, name: str) -> list[Path]:
    """Write ``name.png`` (150 dpi) and ``name.pdf`` into ``folder`` (in a helper process inside
    :func:`saving_in_background`); returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    png, pdf = folder / f"{name}.png", folder / f"{name}.pdf"
    helpers = _ACTIVE.get()
    if helpers is None:
        _write(fig, png, pdf)
    else:
        helpers.submit(fig, png, pdf)
    return [png, pdf]


def _default_helpers() -> int:
    """Helpers worth starting: the cores this process may use, at most 2; none on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2, cores) if cores > 1 else 0


def _start(n: int) -> list[subprocess.Popen[str]]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)  # importable even if only on sys.path here
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "benchmark.figure_writer"]
    return [
        subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(n)
    ]


@contextmanager
def saving_in_background(workers: int | None = None) -> Iterator[None]:
    """Render the figures :func:`save` receives inside the block in ``workers`` helper processes (default:
    up to 2 where there are several cores; 0: inline); on leaving, wait for all and raise the first error."""
    n = _default_helpers() if workers is None else workers
    if n <= 0:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="discrimbench-figures-") as tmp:
        try:
            procs = _start(n)
        except OSError:  # no subprocess here: render inline
            yield
            return
        helpers = _Helpers(Path(tmp), procs)
        token = _ACTIVE.set(helpers)
        try:
            yield
            helpers.finish()
        finally:
            _ACTIVE.reset(token)
            helpers.stop()


def _serve(lines: IO[str]) -> int:
    """The helper's loop: render each figure named on ``lines``; stop at the first failure."""
    for line in lines:
        pickled, png, pdf = line.rstrip("\n").split("\t")
        _write(pickle.loads(Path(pickled).read_bytes()), Path(png), Path(pdf))
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.stdin))
