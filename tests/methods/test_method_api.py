"""The built-in methods are plugins: they import only public modules, arrive through the entry points
declared in pyproject.toml, and the core asks them what they are instead of naming them."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from benchmark import registry
from benchmark.registry import METHODS, method_weight_kind

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"benchmark.method", "benchmark.space", "benchmark.registry", "benchmark.errors"}
GROUPS = ("discrimbench.methods", "discrimbench.datasets", "discrimbench.noises", "discrimbench.models")


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "baselines").glob("*.py")), ids=lambda p: p.name)
def test_baselines_import_only_public_modules_of_the_core(path: Path) -> None:
    core = {m for m in _imports(path) if m.split(".")[0] == "benchmark"}
    assert core <= PUBLIC, core - PUBLIC


def test_the_core_names_no_built_in_package() -> None:
    """registry.py loads what the entry points declare: no module name of a built-in in its source."""
    assert "baselines" not in _imports(ROOT / "benchmark" / "registry.py")
    assert 'import_module("' not in (ROOT / "benchmark" / "registry.py").read_text("utf-8")


def test_the_built_ins_are_declared_as_entry_points_and_read_from_a_source_checkout() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["entry-points"]
    assert {g: declared[g]["builtin"] for g in GROUPS} == {
        "discrimbench.methods": "baselines",
        "discrimbench.datasets": "benchmark.data",
        "discrimbench.noises": "benchmark.data.noise",
        "discrimbench.models": "benchmark.models",
    }
    assert registry._source_entry_points("discrimbench.methods") == ["baselines"]
    assert registry._source_entry_points("discrimbench.nothing") == []
    assert set(METHODS.names()) >= {"ce", "coteaching", "discrimloss", "gce", "superloss"}


def test_what_a_method_knows_about_itself() -> None:
    kinds = {
        name: method_weight_kind(name) for name in ("ce", "coteaching", "discrimloss", "gce", "superloss")
    }
    assert kinds == {
        "ce": None,
        "coteaching": "fraction",
        "discrimloss": "continuous",
        "gce": "binary",
        "superloss": "continuous",
    }
    assert method_weight_kind("no-such-method") is None  # a results file from a plugin not installed
    assert [n for n in METHODS.names() if METHODS.get(n).hardness_reference] == ["ce"]
    assert METHODS.base is not None and METHODS.base.__module__ == "benchmark.method"


def test_an_unknown_preset_is_one_line_with_the_closest_names() -> None:
    from benchmark.errors import HyperparameterError

    with pytest.raises(HyperparameterError) as info:
        METHODS.get("gce").preset_values("trunctaed")
    assert str(info.value) == (
        "gce has no preset 'trunctaed'; did you mean 'truncated' or 'truncated-current'? "
        "(presets: paper, truncated, truncated-current)"
    )
