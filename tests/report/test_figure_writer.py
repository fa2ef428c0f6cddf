"""Figures rendered by helper processes: the same pixels as inline, errors raised, unguarded scripts safe."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from benchmark.errors import OutputError
from benchmark.figure_writer import save, saving_in_background


def _figure(seed: int) -> Figure:
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(4, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(rng.normal(size=50), label="a")
    ax.scatter(rng.normal(size=20), rng.normal(size=20), label="b")
    fig.legend(loc="outside right upper")
    return fig


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_background_files_equal_inline_files(tmp_path: Path) -> None:
    inline = [save(_figure(s), tmp_path / "inline", f"f{s}") for s in range(3)]
    with saving_in_background(workers=2):
        background = [save(_figure(s), tmp_path / "bg", f"f{s}") for s in range(3)]
    for (png_a, _), (png_b, pdf_b) in zip(inline, background, strict=True):
        np.testing.assert_array_equal(_pixels(png_a), _pixels(png_b))
        assert pdf_b.read_bytes().startswith(b"%PDF") and pdf_b.stat().st_size > 1000


def test_a_helper_failure_is_raised_as_one_output_error(tmp_path: Path) -> None:
    blocked = tmp_path / "figures"
    blocked.mkdir()
    (blocked / "x.png").mkdir()  # a folder where the PNG must go: savefig fails in the helper
    with (
        pytest.raises(OutputError, match=r"could not write a figure: .*x\.png"),
        saving_in_background(workers=1),
    ):
        save(_figure(0), blocked, "x")


def test_an_unguarded_script_is_not_run_again_by_the_helpers(tmp_path: Path) -> None:
    """multiprocessing's spawn would import a caller's script again; the helpers are plain subprocesses."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(f"""
        from pathlib import Path
        from matplotlib.figure import Figure
        from benchmark.figure_writer import save, saving_in_background
        with open({str(marker)!r}, "a") as f:
            f.write("ran\\n")
        with saving_in_background(workers=2):
            for i in range(2):
                fig = Figure(); fig.subplots().plot([0, i])
                save(fig, Path({str(tmp_path)!r}), f"g{{i}}")
        """)
    )
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, timeout=120)
    assert marker.read_text() == "ran\n"
    assert all((tmp_path / f"g{i}.{ext}").stat().st_size > 0 for i in range(2) for ext in ("png", "pdf"))
