"""The report as whole documents: markdown beside its figure files, and one self-contained HTML page
(figures inlined, the study's config and versions folded at the end)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from benchmark.report.document import Report, section_parts
from benchmark.report.render import Table, to_html, to_markdown

__all__ = ["html_page", "markdown_page"]


def markdown_page(report: Report, out: Path) -> str:
    """The report in markdown; figures are linked relative to the report folder ``out``."""
    parts = [f"# {report.title}", ""]
    if report.banner:
        head, *cells = report.banner.splitlines()
        parts += [f"> **{head}**", ">", *(f"> - {line.strip()}" for line in cells), ""]
    for section in report.sections.values():
        if not (section.tables or section.figures):
            continue
        parts.append(f"## {section.title}\n")
        if section.intro:
            parts.append(section.intro + "\n")
        for item in section_parts(section):
            if isinstance(item, Table):
                parts.append(to_markdown(item))
            else:
                f = item
                parts.append(f"![{f.caption}]({f.png.relative_to(out).as_posix()})\n\n*{f.caption}*\n")
    if report.notes:
        parts.append("## Notes\n")
        parts += [f"- {n}" for n in report.notes]
    return "\n".join(parts) + "\n"


_CSS = """body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}table{border-collapse:collapse;
font-size:13px;margin:.5em 0}th,td{border-bottom:1px solid #ccc;padding:2px 8px;text-align:left}
.protocol{color:#444;font-size:13px}
.banner{background:#fdd;border:2px solid #c00;white-space:pre-wrap}
img{max-width:100%}pre{background:#f6f6f6;padding:.5em;overflow:auto}"""


def html_page(report: Report, study: dict[str, Any]) -> str:
    """The report as one HTML page that needs no other file."""
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.banner:
        body.append(f'<pre class="banner" id="health-banner">{html.escape(report.banner)}</pre>')
    for key, section in report.sections.items():
        if not (section.tables or section.figures):
            continue
        body.append(f'<section id="{key}"><h2>{html.escape(section.title)}</h2>')
        if section.intro:
            body.append(f"<p>{html.escape(section.intro)}</p>")
        for item in section_parts(section):
            if isinstance(item, Table):
                body.append(to_html(item))
            else:
                data = base64.b64encode(item.png.read_bytes()).decode("ascii")
                caption = html.escape(item.caption)
                body.append(
                    f'<figure id="fig-{html.escape(item.name)}"><img alt="{caption}" '
                    f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
                )
        body.append("</section>")
    if report.notes:
        body.append(
            '<h2>Notes</h2><ul id="notes">'
            + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
            + "</ul>"
        )
    body.append("<h2>Study (config, versions, timings)</h2>")
    if study:
        for key, value in study.items():
            text = json.dumps(value, indent=2, default=str)
            body.append(
                f"<details><summary>{html.escape(str(key))}</summary><pre>{html.escape(text)}</pre></details>"
            )
    else:
        body.append("<p>No study.json in the study folder.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
