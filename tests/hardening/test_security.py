"""Security: safe loaders only (a scan of the source tree), servers in the docs bind to loopback, and no
password of a storage URL reaches study.json, the console or MLflow."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from ._helpers import write_study

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for d in ("benchmark", "baselines", "benchmarks") for p in (ROOT / d).rglob("*.py"))
RESTRICTED_UNPICKLER = ROOT / "benchmark" / "data" / "_restricted_pickle.py"


def _calls(path: Path) -> list[tuple[str, ast.Call]]:
    """``(dotted name, call)`` for every call of an attribute of a module-level name, e.g. ``yaml.load``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if isinstance(base, ast.Name):
                out.append((f"{base.id}.{node.func.attr}", node))
    return out


def _keyword_true(call: ast.Call, name: str) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords
    )


def test_the_scan_sees_the_source_tree() -> None:
    names = {p.name for p in SOURCES}
    assert {"config.py", "study.py", "_restricted_pickle.py", "engine.py"} <= names
    assert len(SOURCES) > 40


def test_no_unsafe_loaders_in_the_source_tree() -> None:
    problems = []
    for path in SOURCES:
        rel = path.relative_to(ROOT)
        for name, call in _calls(path):
            where = f"{rel}:{call.lineno}"
            if name in {"yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all"}:
                problems.append(f"{where}: {name}( (use yaml.safe_load)")
            if name in {"pickle.load", "pickle.loads", "pickle.Unpickler"} and path != RESTRICTED_UNPICKLER:
                problems.append(f"{where}: {name}( outside the restricted unpickler")
            if name == "torch.load" and not _keyword_true(call, "weights_only"):
                problems.append(f"{where}: torch.load( without weights_only=True")
            if name in {"np.load", "numpy.load"} and _keyword_true(call, "allow_pickle"):
                problems.append(f"{where}: {name}(allow_pickle=True)")
    # text fallback for spellings the AST check cannot see (aliases such as ``from yaml import load``)
    for path in SOURCES:
        text = path.read_text()
        pattern = r"from\s+(yaml|pickle)\s+import\s+[^\n]*\b(load|loads|unsafe_load|Unpickler)\b"
        if re.search(pattern, text) and path != RESTRICTED_UNPICKLER:
            problems.append(f"{path.relative_to(ROOT)}: imports a loader by name")
    assert not problems, "\n".join(problems)


def test_the_scanner_catches_what_it_must(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import yaml, torch, pickle\nyaml.load(s)\ntorch.load(f)\npickle.loads(b)\n"
        "torch.load(f, weights_only=True)\n"
    )
    found = [
        name for name, call in _calls(bad) if name != "torch.load" or not _keyword_true(call, "weights_only")
    ]
    assert found == ["yaml.load", "torch.load", "pickle.loads"]


def test_documented_servers_bind_to_loopback() -> None:
    docs = [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "datasets").rglob("*.md")),
    ]
    commands = [
        line.strip()
        for path in docs
        if path.exists()
        for line in path.read_text().splitlines()
        if re.search(r"\bmlflow (ui|server)\b|optuna-dashboard|\bhttp\.server\b", line)
    ]
    for line in commands:
        assert re.search(r"--host\s+127\.0\.0\.1|--bind\s+127\.0\.0\.1", line), line


# ---- passwords are masked ------------------------------------------------------------------------------

SECRET = "S3cr3tPw-" + "x7"


def test_password_in_an_unreachable_storage_url_is_masked(tmp_path: Path, cli) -> None:
    study = write_study(tmp_path)
    url = f"postgresql://someone:{SECRET}@127.0.0.1:9/nowhere"
    code, out, err = cli("run", str(study), "--out", str(tmp_path / "dry"), "--storage", url, "--dry-run")
    assert code == 2 and "someone:***@127.0.0.1" in err and SECRET not in out + err, err
    code, out, err = cli("run", str(study), "--out", str(tmp_path / "out"), "--storage", url, "--quiet")
    assert code == 2 and SECRET not in out + err and "***" in err, err


@pytest.mark.parametrize(
    ("preset", "expected"),
    [({}, "true"), ({"MLFLOW_DISABLE_TELEMETRY": "false"}, "false"), ({"DO_NOT_TRACK": "false"}, None)],
)
def test_mlflow_telemetry_is_off_unless_the_user_chose(
    preset: dict[str, str], expected: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 3 reports usage from background threads by default; the processes that open our stores turn
    it off, but a user's own MLFLOW_DISABLE_TELEMETRY or DO_NOT_TRACK wins."""
    from benchmark._mlflow_writer import open_client

    for name in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in preset.items():
        monkeypatch.setenv(name, value)
    open_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert os.environ.get("MLFLOW_DISABLE_TELEMETRY") == expected
