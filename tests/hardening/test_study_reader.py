"""The study-file reader on hostile text: one line with file:line, bounded time and memory."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from benchmark.config import load_study
from benchmark.errors import StudyConfigError, short
from benchmark.study_reader import MAX_BYTES, parse_study_text

from ._helpers import write_study


def _alias_bomb(levels: int = 8, width: int = 9) -> str:
    lines = ["a: &a [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels + 1):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_in_under_a_second_and_300_mb() -> None:
    text = _alias_bomb()
    assert len(text) < 1500
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(StudyConfigError) as err:
        parse_study_text(text.encode(), "bomb.yaml")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(err.value) == ("bomb.yaml:1:4: anchor &a is not allowed in a study file (write the value out)")
    assert elapsed < 1.0 and peak < 300 * 2**20


def _cap_address_space_at_300_mb() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (300 * 2**20, 300 * 2**20))


def test_the_whole_command_refuses_the_bomb_within_300_mb(tmp_path: Path) -> None:
    """``discrimbench run bomb.yaml --dry-run`` reads the text before it imports torch (whose import alone
    needs more than 300 MB of address space), so the whole process stays under the cap."""
    (tmp_path / "bomb.yaml").write_text(_alias_bomb())
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", "run", "bomb.yaml", "--dry-run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, preexec_fn=_cap_address_space_at_300_mb,
    )  # fmt: skip
    assert time.perf_counter() - started < 10  # the interpreter's own start included
    assert (done.returncode, done.stdout) == (2, ""), done.stderr[-2000:]
    assert done.stderr == (
        "discrimbench run: error: bomb.yaml:1:4: "
        "anchor &a is not allowed in a study file (write the value out)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.yaml"]


def test_an_alias_without_anchor_is_refused_too() -> None:
    with pytest.raises(StudyConfigError, match=r"^s.yaml:2:4: alias \*x is not allowed"):
        parse_study_text(b"a: 1\nb: *x\n", "s.yaml")


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nmethods: [gce]\nseeds: [1]\nmethods: [ce]\n")
    with pytest.raises(StudyConfigError) as err:
        load_study(str(path))
    assert str(err.value) == f"{path}:4:1: key 'methods' is given twice (lines 2 and 4); keep one"


def test_duplicate_nested_key() -> None:
    with pytest.raises(StudyConfigError, match=r"key 'epochs' is given twice \(lines 2 and 3\)"):
        parse_study_text(b"training:\n  epochs: 1\n  epochs: 2\n", "s.yaml")


def test_non_utf8_byte_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"name: a\nseeds: [1]\ndescription: caf\xe9\n")
    with pytest.raises(StudyConfigError) as err:
        load_study(str(path))
    assert str(err.value) == (
        f"{path}:3: not UTF-8 text (byte 0xe9 at offset 35); save the study file as UTF-8"
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (b"seeds: !!int abc\n", "s.yaml:1:8: 'abc' is not an integer"),
        (b"seeds: [" + b"9" * 5000 + b"]\n", "s.yaml:1:9: integer of 5000 digits; at most 40 are allowed"),
        (b"x: " + b"[" * 2000 + b"]" * 2000 + b"\n", "nesting deeper than 32 levels"),
        (b"x: !!python/object:os.system {}\n", "s.yaml:1:4: malformed YAML: "),
        (b"<<: {a: 1}\n", "merge keys (<<) are not allowed"),
        (b"name: !!timestamp fuzz\n", "s.yaml:1:7: 'fuzz' cannot be read as !!timestamp"),
        (b"name: !!float fuzz\n", "s.yaml:1:7: 'fuzz' cannot be read as !!float"),
        (b"a: [1\n", "s.yaml:2:1: malformed YAML: "),
    ],
)
def test_hostile_yaml_is_one_short_line(text: bytes, needle: str) -> None:
    with pytest.raises(StudyConfigError) as err:
        parse_study_text(text, "s.yaml")
    message = str(err.value)
    assert needle in message and "\n" not in message and len(message) < 300


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_BYTES * 3))
    with pytest.raises(StudyConfigError, match=r"1,000,001 bytes; at most 1,000,000 are allowed"):
        load_study(str(path))


def test_short_truncates_huge_values() -> None:
    assert short("x" * 1000) == "'" + "x" * 56 + "..."
    assert len(short(list(range(10**5)))) == 60
    assert short(3) == "3"


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"seeds": [10**23]}, "seeds=[100000000000000000000000]: seeds must satisfy 0 <= seed <= 2**62"),
        ({"tuning": {"sampler_seed": 2**32}}, "tuning.sampler_seed=4294967296: Input should be less than"),
        (
            {"training": {"threads": 10**12}},
            "training.threads=1000000000000: need 1 <= threads <= 1024 (torch",
        ),
        ({"methods": {"gce": {"search": {"q": [0.1, float("inf")]}}}}, "high=inf must be finite"),
        ({"methods": {"gce": {"search": {"q": {"low": None, "high": 0.5}}}}}, "low=None must be a number"),
        ({"description": "y" * 10**5, "seeds": "z" * 10**5}, "seeds='zzzzz"),
    ],
)
def test_values_are_bounded_and_errors_stay_short(tmp_path: Path, changes: dict, needle: str) -> None:
    with pytest.raises(StudyConfigError) as err:
        load_study(str(write_study(tmp_path, changes)))
    assert needle in str(err.value)
    assert len(str(err.value)) < 400
