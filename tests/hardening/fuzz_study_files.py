"""A structure-aware fuzzer of study files: ``python -m tests.hardening.fuzz_study_files --examples N``.

Each example is a valid study whose tree was mutated (values of every YAML kind, huge numbers, unknown keys,
deleted keys) and whose text may then carry a tag, an anchor and alias, an alias bomb, a duplicate key, a
deep nesting, a huge integer, or random byte edits. The invariant, checked in-process for speed:

* ``discrimbench run --dry-run`` exits 0 or 2; on 2, stderr is one line under 500 characters, no traceback;
* nothing is written: the example's folder (``--out`` and the working directory inside it) is unchanged;
* the real run refuses exactly what the dry run refuses, with the same line, writing nothing; what the dry
  run accepts gets past the real run's setup (stores created, each cell's data and noise prepared);
* memory: the whole fuzz runs under ``RLIMIT_AS`` (the address space after imports + 1 GiB).

Prints ``accepted N refused N failed N`` and the first failures (exit code 1 when any failed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE: dict[str, Any] = {
    "name": "fuzz",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.0, 0.4]}},
    "methods": {"ce": {}, "gce": {"search": {"q": [0.1, 0.9]}}},
    "seeds": [1, 2],
    "tuning": {"n_trials": 2, "sampler_seed": 3, "pruner": "median"},
    "training": {"epochs": 1, "device": "cpu", "threads": 1, "recipe": {"batch_size": 64}},
}
WORDS = ["banana", "cpu", "cuda", "auto", "real", "mnist", "mnist1d", "digits", "idn", "gce",
         "file:///proc/nope", "sqlite:////missing/dir/x.db", "none", "/", "..", "", "paper", "fast",
         "ce", "num_samples", "batch_size", "lr", "momentum", "q", "choices", "low", "high", "log",
         "step"]  # fmt: skip
MEMORY_HEADROOM = 2**30


class SetupPassed(Exception):
    """Raised in place of the real run's training: its setup (stores, data, noise) succeeded."""


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, (*prefix, i))
    return out


def _set(tree: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        tree = dict(tree)
        if delete and not rest:
            tree.pop(head, None)
        else:
            tree[head] = _set(tree.get(head), rest, value, delete)
    elif isinstance(tree, list):
        tree = list(tree)
        if delete and not rest:
            tree.pop(head)
        else:
            tree[head] = _set(tree[head], rest, value, delete)
    return tree


_scalars = st.one_of(
    st.integers(min_value=0, max_value=100),
    st.floats(min_value=0.0, max_value=1.0),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(min_value=0, max_value=200).map(lambda k: 10**k),
    st.integers(min_value=0, max_value=200).map(lambda k: -(10**k)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def _tree_text(draw: st.DrawFn) -> str:
    tree: Any = BASE
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):  # 0: the valid study, as an oracle
        paths = _paths(tree)
        path = draw(st.sampled_from(paths[1:] or paths))
        kind = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if kind == "delete":
            tree = _set(tree, path, None, delete=True)
        elif kind == "add" and isinstance(tree, dict):
            parent = draw(st.sampled_from([p for p in paths if _is_dict(tree, p)]))
            tree = _set(tree, (*parent, draw(st.sampled_from(WORDS))), draw(_values))
        else:
            tree = _set(tree, path, draw(_values))
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def _is_dict(tree: Any, path: tuple[Any, ...]) -> bool:
    for p in path:
        tree = tree[p]
    return isinstance(tree, dict)


def _alias_bomb(levels: int, width: int) -> str:
    lines = ["lol0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@st.composite
def _injected(draw: st.DrawFn) -> str:
    text = draw(_tree_text())
    lines = text.splitlines()
    kind = draw(st.sampled_from(["tag", "alias", "bomb", "duplicate", "deep", "bigint", "none", "none"]))
    if kind == "tag":
        i = draw(st.integers(0, len(lines) - 1))
        tag = draw(st.sampled_from(["!!int", "!!float", "!!str", "!!python/object:os.system", "!foo",
                                    "!!binary", "!!timestamp", "!!set", "!!omap"]))  # fmt: skip
        key, sep, value = lines[i].partition(": ")
        lines[i] = f"{key}: {tag} {value}" if sep else f"{lines[i]} {tag}"
    elif kind == "alias":
        lines.append("extra: &x [1, 2]")
        lines.append("seeds: *x")
    elif kind == "bomb":
        lines += _alias_bomb(draw(st.integers(1, 9)), draw(st.integers(2, 9))).splitlines()
    elif kind == "duplicate":
        lines += draw(st.sampled_from(["methods: [ce]", "name: other", "seeds: [3]"])).splitlines()
    elif kind == "deep":
        depth = draw(st.integers(1, 3000))
        lines.append("description: " + "[" * depth + "]" * depth)
    elif kind == "bigint":
        lines.append(f"seeds: [{'9' * draw(st.integers(15, 6000))}]")
    return "\n".join(lines) + "\n"


@st.composite
def _byte_edits(draw: st.DrawFn) -> bytes:
    data = bytearray(yaml.safe_dump(BASE, sort_keys=False).encode())
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "insert" or pos == len(data):
            data[pos:pos] = bytes([draw(st.integers(0, 255))])
        elif op == "flip":
            data[pos] = draw(st.integers(0, 255))
        else:
            del data[pos]
    return bytes(data)


study_files = st.one_of(_tree_text().map(str.encode), _injected().map(str.encode), _byte_edits())


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _cli(argv: list[str]) -> tuple[int, str, str]:
    from benchmark.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def _stop_after_setup(plan: Any, storage: Any, tracker: Any, progress: bool) -> None:
    """Replaces the real run's training: prepare every cell's data and noise, then stop."""
    from benchmark.data import prepare

    t = plan.study.config.training
    for cell in plan.cells:
        prepare(
            cell.dataset, cell.noise, cell.rate, plan.study.config.seeds[0], noise_params=cell.noise_params,
            dataset_kwargs=cell.dataset_kwargs, val_fraction=t.val_fraction, data_root=t.data_root,
            recipe_kind=t.recipe_kind,
        )  # fmt: skip
    raise SetupPassed


def check(data: bytes) -> str:
    """One example: ``"accepted"`` or ``"refused"``; raises AssertionError when the invariant breaks."""
    import benchmark.study.run

    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp)
        (folder / "cwd").mkdir()
        study = folder / "study.yaml"
        study.write_bytes(data)
        before = _files(folder)
        cwd = os.getcwd()
        os.chdir(folder / "cwd")
        try:
            plain = _cli(["run", str(study), "--out", str(folder / "out"), "--dry-run"])
            _one_line(plain, "dry run")
            assert _files(folder) == before, f"dry run wrote {set(_files(folder)) - set(before)}"
            flags = ["--out", str(folder / "out"), "--storage", str(folder / "out" / "o.journal")]
            flags += ["--tracking-uri", "none", "--quiet", "--no-report"]
            dry = _cli(["run", str(study), *flags, "--dry-run"])
            _one_line(dry, "dry run with flags")
            assert _files(folder) == before, f"dry run wrote {set(_files(folder)) - set(before)}"
            saved = benchmark.study.run._work_showing_progress
            benchmark.study.run._work_showing_progress = _stop_after_setup
            try:
                real = _cli(["run", str(study), *flags])
                passed = False
            except SetupPassed:
                passed, real = True, (0, "", "")
            finally:
                benchmark.study.run._work_showing_progress = saved
            if dry[0] == 0:
                assert passed, f"dry run accepted, real run refused: {real[2].strip()[:300]}"
            else:
                assert not passed, f"dry run refused, real run passed setup: {dry[2].strip()[:300]}"
                assert real[0] == 2 and real[2] == dry[2], f"real run differs: {real[2][:300]!r}"
                assert _files(folder) == before, f"real run wrote {set(_files(folder)) - set(before)}"
            return "accepted" if plain[0] == 0 else "refused"
        finally:
            os.chdir(cwd)


def _one_line(result: tuple[int, str, str], what: str) -> None:
    code, _, err = result
    assert code in (0, 2), f"{what}: exit code {code}: {err[-300:]}"
    if code == 2:
        assert err.count("\n") == 1 and err.endswith("\n"), f"{what}: {err.count(chr(10))} lines"
        assert len(err) < 500, f"{what}: a {len(err)}-character line: {err[:200]}"
        assert "Traceback" not in err


def limit_memory(headroom: int = MEMORY_HEADROOM) -> int:
    """Cap this process's address space at its current size + ``headroom`` (imports done first)."""
    import benchmark.cli
    import benchmark.commands.run
    import benchmark.data
    import benchmark.study  # noqa: F401
    from benchmark.registry import load_builtin_components

    load_builtin_components()
    check(yaml.safe_dump(BASE).encode())  # warm every lazy import before the cap
    size = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmSize:"))  # fmt: skip
    resource.setrlimit(resource.RLIMIT_AS, (size + headroom, size + headroom))
    return size + headroom


def classify(data: bytes) -> tuple[str, str]:
    """``("accepted" | "refused" | "failed", why)`` for one file; any exception escaping is a failure."""
    try:
        return check(data), ""
    except AssertionError as exc:
        return "failed", str(exc)
    except BaseException as exc:  # a traceback, MemoryError, RecursionError: all failures
        if isinstance(exc, KeyboardInterrupt):
            raise
        return "failed", "".join(traceback.format_exception_only(exc)).strip()[:300]


def run(examples: int, seed: int | None = None) -> dict[str, Any]:
    counts = {"accepted": 0, "refused": 0, "failed": 0}
    failures: list[tuple[bytes, str]] = []

    def one(data: bytes) -> None:
        outcome, why = classify(data)
        counts[outcome] += 1
        if outcome == "failed":
            failures.append((data, why))
        done = sum(counts.values())
        if done % 500 == 0:
            print(f"  {done} files: {counts}", file=sys.stderr, flush=True)

    test: Callable[..., None] = given(study_files)(one)
    test = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
    )(test)
    test()
    return {**counts, "failures": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--no-memory-limit", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cap = None if args.no_memory_limit else limit_memory()
    result = run(args.examples)
    total = result["accepted"] + result["refused"] + result["failed"]
    print(f"fuzz: {total} study files, address space capped at {cap and cap // 2**20} MiB")
    print(f"accepted {result['accepted']} refused {result['refused']} failed {result['failed']}")
    for data, why in result["failures"][:10]:
        print(f"FAILED {why}\n  file: {data[:300]!r}")
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
