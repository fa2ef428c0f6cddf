"""End to end: make_report and `discrimbench report` on a fixture study folder, the HTML page in Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.errors import DataCorruptError, DataMissingError
from benchmark.report import make_report


def test_cli_report_writes_every_format(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(study_dir), "--reference", "discrimloss_internal_notes"]) == 0
    out = study_dir / "report"
    assert f"report written to {out}" in capsys.readouterr().out
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.index("## Headline") < md.index("Headline results") < md.index("Results per cell")
    assert md.index("metric_vs_rate_test_best_val.png") < md.index("Headline results")
    for needle in ("Results per cell", "Paired comparisons", "Average ranks", "Reproduced versus reported",
                   "not independent", "ORACLE (selected on test)", "no MLflow store"):  # fmt: skip
        assert needle in md
    assert "coteaching_readme" not in md  # only the chosen reference file
    tex = (out / "tables.tex").read_text(encoding="utf-8")
    assert tex.count(r"\begin{table}") == 6 and r"\toprule" in tex
    for name in ("metric_vs_rate_test_best_val", "metric_vs_rate_test_last", "cd_diagram"):
        assert (out / "figures" / f"{name}.png").is_file() and (out / "figures" / f"{name}.pdf").is_file()
    assert (out / "summary.csv").is_file() and (out / "paired.csv").is_file()


def test_cli_missing_folder_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("discrimbench report: error: study folder or file not found")


def test_cli_bad_format_and_reference(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(study_dir), "--format", "md,docx"]) == 2
    assert "'docx' is not a report format; allowed: md, html, tex" in capsys.readouterr().err
    assert main(["report", str(study_dir), "--reference", "nope"]) == 2
    assert "--reference 'nope' is not a reference file" in capsys.readouterr().err


def test_missing_and_malformed_results(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError, match=r"no results\.csv in"):
        make_report(tmp_path)
    (tmp_path / "results.csv").write_text("dataset,noise\nmnist,sym-excl\n", encoding="utf-8")
    with pytest.raises(DataCorruptError, match="lacks required column"):
        make_report(tmp_path)


def test_non_numeric_metric_names_row(study_dir: Path) -> None:
    path = study_dir / "results.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    cells = text[3].split(",")
    cells[header.index("test_last")] = "abc"
    text[3] = ",".join(cells)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(DataCorruptError, match=r"column test_last must be numeric, got 'abc' in data row 3"):
        make_report(study_dir, formats=("md",))


def _chromium() -> str:
    path = os.environ.get("DISCRIMBENCH_CHROMIUM", "/usr/bin/chromium")
    if shutil.which(path) is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium not found (set DISCRIMBENCH_CHROMIUM); the HTML test must run in CI")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return path


# Every <img> with its load state and natural size, and the tables by their data-table key.
_IMAGES = "[...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
_TABLES = "[...document.querySelectorAll('table')].map(t => [t.dataset.table || '', t.rows.length])"


@pytest.mark.browser
def test_html_report_renders_in_headless_chromium(study_dir: Path, tmp_path: Path) -> None:
    from chromium_cdp import Chromium  # tests/report is on sys.path (rootdir conftest)

    out = make_report(study_dir, formats=("html",), references=["discrimloss_internal_notes"])
    page = out / "report.html"
    assert not (out / "report.md").exists()
    with Chromium(_chromium(), tmp_path / "profile") as browser:
        session = browser.open_page(page.as_uri(), offline=True)
        images = browser.evaluate(session, _IMAGES)
        tables = dict(browser.evaluate(session, _TABLES))
        headings = browser.evaluate(session, "[...document.querySelectorAll('h2')].map(h => h.textContent)")
        title = browser.evaluate(session, "document.querySelector('h1').textContent")
        text = browser.evaluate(session, "document.body.textContent")  # closed <details> too
        errors, requests = browser.errors(), browser.requests()
    assert title == "DiscrimBench report: fixture"
    assert len(images) == 3 and all(done and w > 0 and h > 0 for _, done, w, h in images), images
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests  # nothing from the network
    assert tables["headline"] == 3 and tables["summary"] == 7 and "reference" in tables and "ranks" in tables
    assert headings[:2] == ["Headline", "Ranks across cells"]  # the headline first (no health rows here)
    assert "total_s" in text and "discrimbench" in text  # study.json timings / versions


@pytest.mark.browser
def test_html_sensitivity_section_renders_in_headless_chromium(sweep_study_dir: Path, tmp_path: Path) -> None:
    from chromium_cdp import Chromium  # tests/report is on sys.path (rootdir conftest)

    out = make_report(sweep_study_dir, formats=("html",), references=[])
    with Chromium(_chromium(), tmp_path / "profile") as browser:
        session = browser.open_page((out / "report.html").as_uri(), offline=True)
        images = browser.evaluate(
            session, "[...document.querySelectorAll('#sensitivity img')].map(i => [i.alt, i.naturalWidth])"
        )
        tables = dict(browser.evaluate(session, _TABLES))
        headings = browser.evaluate(session, "[...document.querySelectorAll('h2')].map(h => h.textContent)")
        notes = browser.evaluate(session, "document.querySelector('#notes').textContent")
        errors = browser.errors()
    assert errors == []
    assert headings.index("Hyperparameter sensitivity") == len(headings) - 3  # then Notes, Study
    assert len(images) == 4 and all(width > 0 for _, width in images), (
        images
    )  # 2 curves, heatmap, importances
    assert any("(≥ 20 required)" in alt for alt, _ in images)
    assert tables["sensitivity_robustness"] == 4  # header + discrimloss a at 2 rates + gce q
    assert "8 completed sweep run(s)" in notes


@pytest.mark.browser
def test_browser_check_sees_broken_images_errors_and_requests(tmp_path: Path) -> None:
    """The checks above can fail: a page with a broken image, a console error and a remote request."""
    from chromium_cdp import Chromium  # tests/report is on sys.path (rootdir conftest)

    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img alt="missing" src="missing.png">'
        '<img alt="remote" src="http://example.invalid/x.png"><script>console.error("boom")</script>'
        "</body></html>",
        encoding="utf-8",
    )
    with Chromium(_chromium(), tmp_path / "profile") as browser:
        session = browser.open_page(page.as_uri(), offline=True)
        images = browser.evaluate(session, _IMAGES)
        errors, requests = browser.errors(), browser.requests()
    assert [w for _, _, w, _ in images] == [0, 0]
    assert "boom" in errors
    assert "http://example.invalid/x.png" in requests


def test_store_locations_from_study_json(tmp_path: Path) -> None:
    from benchmark.report.io import mlflow_uri, optuna_storage_url

    default = {"storage": {"optuna": "postgresql://u:***@db/x", "mlflow": "default"}}
    assert mlflow_uri(tmp_path, default) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert optuna_storage_url(tmp_path, default) == f"sqlite:///{tmp_path.resolve() / 'optuna.db'}"
    (tmp_path / "optuna.journal").write_text("", encoding="utf-8")
    assert optuna_storage_url(tmp_path, {}) == str((tmp_path / "optuna.journal").resolve())
    given = {"storage": {"optuna": "sqlite:////x/o.db", "mlflow": "http://mlflow:5000"}}
    assert (optuna_storage_url(tmp_path, given), mlflow_uri(tmp_path, given)) == (
        "sqlite:////x/o.db",
        "http://mlflow:5000",
    )
