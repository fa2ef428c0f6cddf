"""Regenerate the example figures of docs/img from a finished quick study, or the sensitivity example from
the cut-down sensitivity study beside this script.

    discrimbench run quick --out results/quick      # about 10 minutes on 2 idle CPU cores
    python docs/img/regenerate.py results/quick     # re-draws its report, copies 6 figures here

    discrimbench run docs/img/sensitivity-example.yaml --out results/sensitivity-example   # 28 runs
    python docs/img/regenerate.py --sensitivity results/sensitivity-example

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
SENSITIVITY_FIGURES = {"sensitivity_discrimloss_digits_sym-excl": "sensitivity_curves"}


def main(study: Path, figures: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy_figures(make_report(study, formats=("md",), out=Path(tmp) / "report"), figures)


def copy_figures(report: Path, figures: dict[str, str]) -> None:
    """Copy ``figures`` (report figure → docs/img name) from a report folder into docs/img as 128-colour
    PNGs."""
    here = Path(__file__).resolve().parent
    for source, name in figures.items():
        with Image.open(report / "figures" / f"{source}.png") as img:
            small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
            small.save(here / f"{name}.png", optimize=True)


if __name__ == "__main__":
    if sys.argv[1] == "--sensitivity":
        main(Path(sys.argv[2]), SENSITIVITY_FIGURES)
    else:
        main(Path(sys.argv[1]), FIGURES)
