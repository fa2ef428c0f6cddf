"""The model of a report: titled sections of tables and figures in reading order, notes and a banner.

Everything the report says is gathered here first (:mod:`benchmark.report.sections`), then written in
each format (:mod:`benchmark.report.pages`, :func:`benchmark.report.render.latex_document_tables`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.report.render import Table
from benchmark.stats import RankAnalysis

__all__ = ["SECTIONS", "Report", "ReportFigure", "Section", "section_parts"]


@dataclass
class ReportFigure:
    """A saved figure: its name (the file stem and HTML id), its caption and its PNG file."""

    name: str
    caption: str
    png: Path


@dataclass
class Section:
    """A titled part of the report: its tables and figures, in reading order."""

    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    intro: str = ""
    figures_first: bool = False


# The order a reader of a noisy-label paper expects: the headline first, then whether the budget was
# enough to trust it, then how methods rank, then published numbers, then every detail.
# The sensitivity sweeps (a hyperparameter study) close the report; a study without sweeps leaves it empty.
SECTIONS = ("headline", "health", "ranks", "reference", "details", "curves", "tuning", "sensitivity")
_TITLES = {
    "headline": "Headline",
    "health": "Budget health",
    "ranks": "Ranks across cells",
    "reference": "Reproduced versus reported",
    "details": "Details: every cell, paired tests",
    "curves": "Details: training curves per cell",
    "tuning": "Details: tuning",
    "sensitivity": "Hyperparameter sensitivity",
}


@dataclass
class Report:
    """Everything one report says, before it is written in any format."""

    title: str
    sections: dict[str, Section] = field(
        default_factory=lambda: {k: Section(_TITLES[k], figures_first=k == "headline") for k in SECTIONS}
    )
    notes: list[str] = field(default_factory=list)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    analysis: RankAnalysis | None = None
    banner: str = ""  # the budget-health warning (benchmark.report.health), shown above everything

    @property
    def tables(self) -> list[Table]:
        """Every table in reading order."""
        return [t for s in self.sections.values() for t in s.tables]

    @property
    def figures(self) -> list[ReportFigure]:
        """Every figure in reading order."""
        return [f for s in self.sections.values() for f in s.figures]


def section_parts(section: Section) -> list[Table | ReportFigure]:
    """Tables and figures of a section in reading order (the headline shows its figure first)."""
    if section.figures_first:
        return [*section.figures, *section.tables]
    return [*section.tables, *section.figures]
