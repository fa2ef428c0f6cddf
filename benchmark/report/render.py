"""Render report tables as markdown, HTML and LaTeX (booktabs).

A :class:`Table` is format-free: a title, the protocol sentence that must sit next to the numbers, a
header, rows of :class:`Cell` (text + bold flag) and footnotes. Each renderer escapes for its format, so
the table builders never think about markup.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass, field

__all__ = [
    "LATEX_PACKAGES",
    "LONG_ROWS",
    "Cell",
    "Table",
    "latex_document_tables",
    "to_html",
    "to_latex",
    "to_markdown",
]


@dataclass(frozen=True)
class Cell:
    """One table cell; ``bold`` marks the best value of its group."""

    text: str
    bold: bool = False


@dataclass
class Table:
    """A format-free table with the protocol stated next to it."""

    title: str
    protocol: str
    header: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    key: str = ""

    def column(self, name: str) -> list[Cell]:
        """The cells of one column, by header name (used by tests and the HTML page)."""
        i = self.header.index(name)
        return [row[i] for row in self.rows]


def to_markdown(table: Table) -> str:
    """GitHub-flavoured markdown, bold as ``**x**``."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"### {table.title}", "", f"*Protocol:* {esc(table.protocol)}", ""]
    if table.rows:
        lines.append("| " + " | ".join(esc(h) for h in table.header) + " |")
        lines.append("|" + "|".join("---" for _ in table.header) + "|")
        for row in table.rows:
            cells = [f"**{esc(c.text)}**" if c.bold and c.text else esc(c.text) for c in row]
            lines.append("| " + " | ".join(cells) + " |")
    else:
        lines.append("(no rows)")
    lines.extend(["", *(f"- {esc(n)}" for n in table.notes)])
    return "\n".join(lines).rstrip() + "\n"


def to_html(table: Table) -> str:
    """An HTML fragment: <h3>, the protocol paragraph, the table and the notes."""
    parts = [
        f"<h3>{html.escape(table.title)}</h3>",
        f'<p class="protocol"><em>Protocol:</em> {html.escape(table.protocol)}</p>',
    ]
    if table.rows:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
        body = "\n".join(
            "<tr>"
            + "".join(
                f"<td><b>{html.escape(c.text)}</b></td>" if c.bold else f"<td>{html.escape(c.text)}</td>"
                for c in row
            )
            + "</tr>"
            for row in table.rows
        )
        key = f' data-table="{html.escape(table.key)}"' if table.key else ""
        parts.append(f"<table{key}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>")
    else:
        parts.append("<p>(no rows)</p>")
    if table.notes:
        parts.append(
            '<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in table.notes) + "</ul>"
        )
    return "\n".join(parts) + "\n"


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\ensuremath{<}",
    ">": r"\ensuremath{>}",
    "|": r"\ensuremath{|}",
    "±": r"\ensuremath{\pm}",
    "≈": r"\ensuremath{\approx}",
    "≥": r"\ensuremath{\geq}",
    "≤": r"\ensuremath{\leq}",
    "≠": r"\ensuremath{\neq}",
    "×": r"\ensuremath{\times}",
    "χ": r"\ensuremath{\chi}",
    "σ": r"\ensuremath{\sigma}",
    "α": r"\ensuremath{\alpha}",
    "²": r"\ensuremath{^2}",
    "↑": r"\ensuremath{\uparrow}",
    "↓": r"\ensuremath{\downarrow}",
    "→": r"\ensuremath{\to}",
    "†": r"\ensuremath{^\dagger}",
    "−": r"\ensuremath{-}",
    "–": "--",
    "—": "---",
    "…": r"\ldots{}",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "\u00a0": "~",
}


def _tex(text: str) -> str:
    """``text`` as ASCII LaTeX: special characters escaped, known symbols as math macros, any other
    non-ASCII character reduced to its ASCII letters (é → e) or ``?`` (pdflatex's default input
    encoding stops at the first character it has no definition for)."""
    out = []
    for ch in text:
        if ch in _TEX_ESCAPES:
            out.append(_TEX_ESCAPES[ch])
        elif ch.isascii():
            out.append(ch)
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            out.append(_tex(plain) if plain else "?")
    return "".join(out)


LONG_ROWS = 20  # a table with more rows is a longtable (split across pages), not a float
LATEX_PACKAGES = ("booktabs", "longtable", "array", "graphicx", "lscape")


def latex_document_tables(tables: list[Table]) -> str:
    """Every table with rows for ``\\input{tables.tex}``, after a comment naming the packages the preamble
    needs (a table without rows is only a comment: an empty float is noise in a paper)."""
    head = (
        "% DiscrimBench report tables. Preamble: "
        + " ".join(rf"\usepackage{{{p}}}" for p in LATEX_PACKAGES)
        + "\n% Tables with more than "
        + f"{LONG_ROWS} rows are longtables (they split across pages; those too wide for a portrait page"
        + " turn to landscape); shorter ones wider than the text are scaled down to it.\n\n"
    )
    return head + "".join(
        to_latex(t) + "\n" if t.rows else f"% {_tex(t.title)}: no rows in this study.\n\n" for t in tables
    )


def _row_tex(row: list[Cell]) -> str:
    return " & ".join(rf"\textbf{{{_tex(c.text)}}}" if c.bold else _tex(c.text) for c in row) + r" \\"


def to_latex(table: Table) -> str:
    """A booktabs table ready to paste (packages: :data:`LATEX_PACKAGES`).

    Up to :data:`LONG_ROWS` rows: a ``table`` float whose tabular is scaled down to the text width when
    wider. Longer: a ``longtable`` (repeating its header on every page) whose columns are paragraph
    columns sharing the text width, so that long cells wrap instead of running off the page.
    """
    caption = rf"\caption{{{_tex(table.title)}. Protocol: {_tex(table.protocol)}}}"
    head = " & ".join(_tex(h) for h in table.header) + r" \\"
    notes = [r"\par\footnotesize " + " ".join(_tex(n) for n in table.notes)] if table.notes else []
    if len(table.rows) > LONG_ROWS:
        return _longtable(table, caption, head, notes)
    n = len(table.header)
    spec = "l" * min(4, n) + "r" * max(0, n - 4)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\footnotesize",
        caption,
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        head,
        r"\midrule",
        *(_row_tex(row) for row in table.rows),
        r"\bottomrule",
        r"\end{tabular}}",
        *notes,
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


# Widths for sharing a longtable's columns: article's text width (345pt) and height (550pt, the width of a
# landscape page) at \scriptsize (7pt), where a digit is 3.5pt and an "m" 5.8pt wide (4.2pt a character is
# safe for our words); a column is never narrower than its longest word, which cannot wrap (a hyphenated
# word may break after its hyphens).
_TEXT_PT, _LANDSCAPE_PT, _CHAR_PT, _SEP_PT = 345.0, 550.0, 4.2, 3.0


def _longest_word(text: str) -> int:
    pieces = [p for w in text.split() for p in w.replace("-", "- ").split()]
    return max((len(p) for p in pieces), default=0)


def _column_shares(table: Table) -> tuple[list[int], bool]:
    """Per-mille shares of the line width per column, and whether the table needs a landscape page.

    Each column first gets room for its longest word, then what is left in proportion to how much longer
    its typical cell is, so that numeric columns stay narrow.
    """
    n = len(table.header)
    words, extras = [], []
    for i, name in enumerate(table.header):
        texts = [name] + [row[i].text for row in table.rows]
        word = max(_longest_word(t) for t in texts)
        typical = sorted(len(t) for t in texts)[len(texts) * 9 // 10]
        words.append(max(word, 3))
        extras.append(max(0, min(typical, 40) - word))
    landscape = sum(words) * _CHAR_PT > _TEXT_PT - 2 * n * _SEP_PT
    room = (_LANDSCAPE_PT if landscape else _TEXT_PT) - 2 * n * _SEP_PT
    minimum = [w * _CHAR_PT / room * 1000 for w in words]
    left = max(0.0, 1000 - sum(minimum))
    total_extra = sum(extras) or 1
    return [int(m + left * e / total_extra) for m, e in zip(minimum, extras, strict=True)], landscape


def _longtable(table: Table, caption: str, head: str, notes: list[str]) -> str:
    n = len(table.header)
    wrap = r">{\raggedright\arraybackslash\hspace{0pt}}"  # \hspace{0pt}: the first word may hyphenate too
    shares, landscape = _column_shares(table)
    cols = "".join(wrap + rf"p{{\dimexpr(\linewidth-{2 * n}\tabcolsep)*{s}/1000\relax}}" for s in shares)
    lines = [
        *([r"\begin{landscape}"] if landscape else []),
        r"\begingroup",
        r"\scriptsize",
        r"\setlength{\tabcolsep}{3pt}",
        rf"\begin{{longtable}}{{@{{}}{cols}@{{}}}}",
        caption + r" \\",
        r"\toprule",
        head,
        r"\midrule",
        r"\endfirsthead",
        rf"\multicolumn{{{n}}}{{@{{}}l}}{{\textit{{{_tex(table.title)} (continued)}}}} \\",
        r"\toprule",
        head,
        r"\midrule",
        r"\endhead",
        r"\bottomrule",
        r"\endfoot",
        *(_row_tex(row) for row in table.rows),
        r"\end{longtable}",
        *notes,
        r"\par\endgroup",
        *([r"\end{landscape}"] if landscape else []),
    ]
    return "\n".join(lines) + "\n"
