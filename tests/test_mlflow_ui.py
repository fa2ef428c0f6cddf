"""MLflow's own UI, served by ``mlflow server`` and loaded in headless Chromium, opens a study written by
DiscrimBench's tracker on its runs table through the README's URL, and once the user chose "Model training"
(the toggle's stored choice); a plain experiment link lands on the GenAI overview, which is why the README
gives that URL.

Why no tag can do it (MLflow 3.17.2's JS bundle): the sidebar's workflow toggle is always on in the
open-source build, and while it is on, the experiment kind comes from the workflow type: the URL's
``workflowType``, else the browser's ``localStorage["mlflow.workflowType_v1"]``, else ``"genai"``. The
experiment's ``mlflow.experimentKind`` tag is read only when the toggle is off (earlier 3.x releases)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from benchmark._mlflow_writer import RUNS_VIEW_TAG, open_client
from benchmark.tracking import make_tracker

CELL = "digits/sym-excl/0.4/ce"
PAGE = "[location.href, document.body ? document.body.innerText : '']"  # body: null until the page starts
CHOICE_KEY = "mlflow.workflowType_v1"  # what the toggle stores (useLocalStorage: key + "_v" + version)


def _chromium() -> str:
    path = os.environ.get("DISCRIMBENCH_CHROMIUM", "/usr/bin/chromium")
    if shutil.which(path) is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium not found (set DISCRIMBENCH_CHROMIUM); the MLflow UI test must run in CI")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return path


def _study_store(folder: Path) -> str:
    """A study's MLflow store as a study writes it: one cell's parent run with a repeat run below it."""
    tracker = make_tracker(None, "ui-study", folder)
    cell = tracker.cell_run(CELL, {"discrimbench.cell": CELL})
    repeat = tracker.start(cell, "repeat seed 1", {"discrimbench.kind": "repeat"}, {"lr": 0.1})
    tracker.log_epoch(repeat, 0, {"test_acc": 91.0})
    tracker.finish(repeat, "FINISHED")
    tracker.finish(cell, "FINISHED")
    tracker.close()
    return f"sqlite:///{folder / 'mlflow.db'}"


@contextmanager
def _mlflow_server(uri: str, log: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", uri, "--workers", "1"]  # fmt: skip
    with log.open("wb") as err:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            deadline = time.monotonic() + 240  # the server imports for tens of seconds on a loaded machine
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.5)
            yield f"http://127.0.0.1:{port}"
        finally:  # the server's uvicorn workers are its children: end the whole group
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _settled(browser: Any, session: str, done: Callable[[str, str], bool]) -> tuple[str, str]:
    """The page's location and text once ``done(location, text)`` holds (the UI renders and redirects after
    the load event), or after two minutes."""
    deadline = time.monotonic() + 120
    while True:
        href, text = (str(v) for v in browser.evaluate(session, PAGE))
        if done(href, text) or time.monotonic() > deadline:
            return href, text
        time.sleep(0.5)


def _nav(text: str) -> list[str]:
    return text.split("\n")


@pytest.mark.browser
def test_mlflow_ui_opens_the_runs_table(tmp_path: Path) -> None:
    from tests.report.chromium_cdp import Chromium

    uri = _study_store(tmp_path / "study")
    experiment = open_client(uri).get_experiment_by_name("ui-study")
    assert experiment.tags[RUNS_VIEW_TAG[0]] == RUNS_VIEW_TAG[1]  # read by the UI when its toggle is off
    exp = experiment.experiment_id
    with (
        _mlflow_server(uri, tmp_path / "server.log") as base,
        Chromium(_chromium(), tmp_path / "p") as browser,
    ):
        # a fresh browser following a plain experiment link: MLflow 3.17's GenAI overview, the tag regardless
        plain = browser.open_page(f"{base}/#/experiments/{exp}", offline=False)
        href, text = _settled(browser, plain, lambda h, t: f"#/experiments/{exp}/" in h and len(t) > 100)
        assert "/overview" in href and "workflowType=genai" in href, href
        assert CELL not in text

        # the README's URL: the runs table with the cell's parent run, and the model-training sidebar
        readme = browser.open_page(
            f"{base}/#/experiments/{exp}/runs?workflowType=machine_learning", offline=False
        )
        href, text = _settled(browser, readme, lambda h, t: CELL in t)
        assert f"#/experiments/{exp}/runs" in href and "workflowType=machine_learning" in href, href
        assert CELL in text and "Model registry" in _nav(text) and "Sessions" not in _nav(text), text[:800]

        # once the user picks "Model training" (the toggle stores it), plain links open the runs table too
        browser.evaluate(readme, f"localStorage.setItem('{CHOICE_KEY}', JSON.stringify('machine_learning'))")
        remembered = browser.open_page(f"{base}/#/experiments/{exp}", offline=False)
        href, text = _settled(browser, remembered, lambda h, t: f"#/experiments/{exp}/" in h and CELL in t)
        assert f"#/experiments/{exp}/runs" in href and CELL in text, href
