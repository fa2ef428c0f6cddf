"""The report of a finished study, read only from the study's outputs (docs/contracts.md).

One module per job: :mod:`~benchmark.report.io` (``results.csv``, ``study.json``, where the stores are),
:mod:`~benchmark.report.sources` (curves from MLflow, trials from Optuna), :mod:`~benchmark.report.tables`
(per-cell statistics and their tables), :mod:`~benchmark.report.reference` (published numbers, shipped as
package data), :mod:`~benchmark.report.health` (budget health), :mod:`~benchmark.report.figures`,
:mod:`~benchmark.report.sensitivity` and :mod:`~benchmark.report.sensitivity_figures` (the sensitivity
sweeps, from ``sweeps.csv``), :mod:`~benchmark.report.sections` (what each section holds),
:mod:`~benchmark.report.document` (the report before it is written), :mod:`~benchmark.report.render` (one
table in md / HTML / LaTeX), :mod:`~benchmark.report.pages` (whole md and HTML documents) and
:mod:`~benchmark.report.make` (:func:`make_report`).
"""

from __future__ import annotations

from benchmark.report.make import FORMATS, make_report

__all__ = ["FORMATS", "make_report"]
