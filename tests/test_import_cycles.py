"""No import cycle among the modules of ``benchmark`` and ``baselines``.

The graph is read from the source with ``ast``, so it sees what running code may hide: imports inside
functions (deferred to dodge a cycle at import time are still a cycle in the design) and
``importlib.import_module("literal")`` calls. An edge ``a -> b`` means module ``a`` names module ``b``
(``from pkg import mod`` names ``pkg.mod`` when that is a module, else ``pkg``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "baselines")

KNOWN_CYCLES: set[frozenset[str]] = set()  # none left: every cycle is a failure


def module_files(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name → source file, for every ``.py`` file under ``packages``."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imported_names(module: str, path: Path) -> Iterable[str]:
    """Every dotted name the module's source imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "import_module" and isinstance(node.args[0].value, str):
                yield node.args[0].value


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of ``files`` it imports (the longest known prefix of each imported name)."""
    graph: dict[str, set[str]] = {module: set() for module in files}
    for module, path in files.items():
        for name in _imported_names(module, path):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_cycle_among_benchmark_and_baselines_modules() -> None:
    new = [c for c in cycles(import_graph(module_files(ROOT))) if c not in KNOWN_CYCLES]
    assert not new, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in new)


def test_the_graph_sees_deferred_and_importlib_imports(tmp_path: Path) -> None:
    """The oracle: a hand-made two-package tree whose only cycle runs through a function-level import and
    an ``import_module`` call is found; without the function-level import there is none."""
    for package in ("pa", "pb"):
        (tmp_path / package).mkdir()
    (tmp_path / "pa" / "__init__.py").write_text("from pa import core\n")
    (tmp_path / "pa" / "core.py").write_text(
        "import importlib\n\ndef load():\n    importlib.import_module('pb')\n"
    )
    (tmp_path / "pb" / "__init__.py").write_text("def f():\n    from pa.core import load\n")
    (tmp_path / "pb" / "leaf.py").write_text("from . import other\nfrom .other import x\n")
    (tmp_path / "pb" / "other.py").write_text("x = 1\n")
    graph = import_graph(module_files(tmp_path, ("pa", "pb")))
    assert graph == {"pa": {"pa.core"}, "pa.core": {"pb"}, "pb": {"pa.core"}, "pb.leaf": {"pb", "pb.other"},
                     "pb.other": set()}  # fmt: skip
    assert cycles(graph) == [frozenset({"pa.core", "pb"})]
    (tmp_path / "pb" / "__init__.py").write_text("def f():\n    pass\n")
    assert cycles(import_graph(module_files(tmp_path, ("pa", "pb")))) == []


def test_it_fails_on_the_cycle_of_issue_14() -> None:
    """The cycle the built-ins used to form, rebuilt as a graph: the registry loading ``baselines``,
    which imports the registry."""
    graph = {
        "benchmark.registry": {"baselines"},
        "baselines": {"baselines.ce", "benchmark.registry"},
        "baselines.ce": {"benchmark.registry"},
    }
    assert cycles(graph) == [frozenset(graph)]
