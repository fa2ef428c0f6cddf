"""tables.tex compiles with real pdflatex inside a minimal document, without an overfull box.

Needs TeX Live's base, recommended and extra LaTeX packages (booktabs, longtable, array, graphicx, lscape);
in CI (``CI=true``) a missing pdflatex is a failure, elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmark.report import make_report
from benchmark.report.render import LATEX_PACKAGES, LONG_ROWS, Cell, Table, to_latex

pytestmark = pytest.mark.latex


def _pdflatex() -> str:
    path = shutil.which("pdflatex")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdflatex not found: apt-get install texlive-latex-base texlive-latex-recommended")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    return path


def _compile(tables: Path) -> str:
    """Compile tables.tex inside a minimal article; return the log (the run must succeed)."""
    doc = tables.parent / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n"
        + "".join(f"\\usepackage{{{p}}}\n" for p in LATEX_PACKAGES)
        + "\\begin{document}\n\\input{tables.tex}\n\\end{document}\n",
        encoding="ascii",
    )
    run = subprocess.run(
        [_pdflatex(), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tables.parent, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    log = (tables.parent / "doc.log").read_text(encoding="latin-1")
    assert run.returncode == 0, log[-3000:]
    assert (tables.parent / "doc.pdf").stat().st_size > 0
    return log


def _assert_clean(log: str) -> None:
    assert not re.search(r"^! ", log, re.MULTILINE), log
    overfull = re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)
    assert overfull == [], f"overfull boxes: {overfull}"


def test_fixture_tables_compile_without_overfull_boxes(study_dir: Path) -> None:
    out = make_report(study_dir, formats=("tex",), references=["discrimloss_internal_notes"])
    tex = (out / "tables.tex").read_text(encoding="utf-8")
    assert tex.isascii()  # ≥, χ², ±, ≈, † ... are macros: pdflatex's default input stops at any other
    assert r"\chi" in tex and r"\pm" in tex and r"\approx" in tex
    _assert_clean(_compile(out / "tables.tex"))


def test_long_and_wide_tables_split_and_fit(big_study_dir: Path) -> None:
    out = make_report(big_study_dir, formats=("tex",), references=[])
    tex = (out / "tables.tex").read_text(encoding="utf-8")
    assert tex.count(r"\begin{longtable}") == 2  # the 60-row per-cell table and the 96-row paired table
    assert r"\endhead" in tex and r"\begin{landscape}" in tex  # header repeats; too wide → landscape page
    assert "% Reproduced versus reported: no rows in this study." in tex  # no empty floats
    assert tex.count(r"\begin{table}") == 2  # the headline and the ranks
    log = _compile(out / "tables.tex")
    _assert_clean(log)
    pages = int(re.search(r"Output written on doc\.pdf \((\d+) pages?", log).group(1))  # type: ignore[union-attr]
    assert pages >= 4  # the long tables really run over several pages


def test_unknown_unicode_and_wide_short_table(tmp_path: Path) -> None:
    header = [f"column number {i} (σ ≥ 0)" for i in range(14)]
    rows = [[Cell(f"{i * 1000.123:.3f} ± 1.5 → ≠ é ✓") for i in range(14)] for _ in range(3)]
    table = Table("Wide — “quoted”", "χ² ≤ 3 … –", header, rows, ["note ≈ †"])
    tex = to_latex(table)
    assert tex.isascii() and r"\resizebox" in tex and "?" in tex  # ✓ has no ASCII form
    long = to_latex(Table("Long", "p", ["a"], [[Cell(str(i))] for i in range(LONG_ROWS + 1)]))
    assert r"\begin{longtable}" in long and r"\begin{table}" not in long
    path = tmp_path / "tables.tex"
    path.write_text(tex + long, encoding="ascii")
    _assert_clean(_compile(path))


def test_sensitivity_robustness_table_compiles(sweep_study_dir: Path) -> None:
    out = make_report(sweep_study_dir, formats=("tex",), references=[])
    tex = (out / "tables.tex").read_text(encoding="utf-8")
    assert tex.isascii() and "Sensitivity: robustness per method and hyperparameter" in tex
    assert "mnist/permute-block/0.2" in tex and "[0.3, 0.4]" in tex
    _assert_clean(_compile(out / "tables.tex"))
