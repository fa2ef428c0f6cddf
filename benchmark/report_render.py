"""Render report tables as markdown, HTML and LaTeX (booktabs).

A :class:`Table` is format-free: a title, the protocol sentence that must sit next to the numbers, a
header, rows of :class:`Cell` (text + bold flag) and footnotes. Each renderer escapes for its format, so
the table builders never think about markup.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["Cell", "Table", "to_html", "to_latex", "to_markdown"]


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
    "±": r"$\pm$",
    "≈": r"$\approx$",
    "†": r"$^\dagger$",
    "–": "--",
    "−": "-",
    "→": r"$\to$",
}


def _tex(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs ``table`` environment ready to paste (needs ``\\usepackage{booktabs}``)."""
    spec = "l" * min(4, len(table.header)) + "r" * max(0, len(table.header) - 4)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{_tex(table.title)}. Protocol: {_tex(table.protocol)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_tex(h) for h in table.header) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        lines.append(
            " & ".join(rf"\textbf{{{_tex(c.text)}}}" if c.bold else _tex(c.text) for c in row) + r" \\"
        )
    lines.extend([r"\bottomrule", r"\end{tabular}"])
    if table.notes:
        lines.append(r"\par\footnotesize " + " ".join(_tex(n) for n in table.notes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
