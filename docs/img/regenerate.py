"""Regenerate the example figures of docs/img from a finished quick study.

    discrimbench run quick --out results/quick      # about 10 minutes on 2 idle CPU cores
    python docs/img/regenerate.py results/quick     # re-draws its report, copies 6 figures here

The report is drawn into a temporary folder with the project's own report code, so the study folder is only
read. The PNGs are reduced to a 128-colour palette so that the repository stays small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

from benchmark.report import make_report

FIGURES = {
    "metric_vs_rate_test_best_val": "headline_metric_vs_rate",
    "cd_diagram": "cd_diagram",
    "memorisation_digits_sym-excl_0.4": "memorisation",
    "weight_evolution_digits_sym-excl_0.4": "weight_evolution",
    "tuning_digits_sym-excl_0.4": "tuning_curves",
    "auroc_digits_sym-excl_0.4": "weight_auroc",
}


def main(study: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy_figures(make_report(study, formats=("md",), out=Path(tmp) / "report"))


def copy_figures(report: Path) -> None:
    """Copy :data:`FIGURES` from a report folder into docs/img as 128-colour PNGs."""
    here = Path(__file__).resolve().parent
    for source, name in FIGURES.items():
        with Image.open(report / "figures" / f"{source}.png") as img:
            small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
            small.save(here / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
