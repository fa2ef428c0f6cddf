"""The generic Registry: registration, look-up errors with suggestions, aliases, entry-point plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.errors import UnknownComponentError
from benchmark.registry import Registry

PLUGIN_DIR = Path(__file__).parent / "fixtures" / "plugin"


class Base:
    """base"""


def make_registry() -> Registry:
    reg: Registry = Registry("widget", base=Base)

    @reg.register("alpha", summary="the first")
    class Alpha(Base):
        pass

    @reg.register("alphabet", aliases=("abc",))
    class Alphabet(Base):
        """Many letters.

        More text that is not the summary."""

    return reg


def test_register_get_and_list() -> None:
    reg = make_registry()
    assert reg.names() == ["alpha", "alphabet"]
    assert reg.names("alphab*") == ["alphabet"]
    assert reg.get("alpha").__name__ == "Alpha"
    assert reg.entry("alpha").summary == "the first"
    assert reg.entry("alphabet").summary == "Many letters."  # first docstring line
    assert "alpha" in reg and "beta" not in reg
    assert len(reg) == 2


def test_unknown_name_lists_closest_and_available() -> None:
    reg = make_registry()
    with pytest.raises(UnknownComponentError) as info:
        reg.get("alpah")
    message = str(info.value)
    assert message.startswith("unknown widget 'alpah'. Did you mean 'alpha'")
    assert "Available: alpha, alphabet" in message
    assert "\n" not in message
    assert isinstance(info.value, LookupError) and not isinstance(info.value, KeyError)


def test_duplicates_bad_names_and_wrong_base_are_refused() -> None:
    reg = make_registry()
    with pytest.raises(ValueError, match="already registered"):
        reg.add("alpha", Base)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("abc", Base)  # an alias counts as taken
    with pytest.raises(ValueError, match="lowercase"):
        reg.add("Gamma", Base)
    with pytest.raises(TypeError, match="must subclass Base"):
        reg.add("gamma", int)


def test_alias_resolves_with_deprecation_warning() -> None:
    reg = make_registry()
    with pytest.warns(DeprecationWarning, match="'abc' is deprecated, use 'alphabet'"):
        assert reg.get("abc").__name__ == "Alphabet"


def _run_cli(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "benchmark", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_entry_point_plugin_adds_a_method() -> None:
    """A distribution on the path declaring a ``discrimbench.methods`` entry point is picked up."""
    proc = _run_cli("list", "methods", "--json", extra_path=PLUGIN_DIR)
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert listing["toy-mae"] == "test plugin: mean absolute error on probabilities"
    assert {"ce", "gce", "superloss", "coteaching", "discrimloss"} <= set(listing)


def test_without_the_plugin_it_is_absent() -> None:
    proc = _run_cli("list", "methods", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "toy-mae" not in json.loads(proc.stdout)


def test_list_methods_shows_the_five_methods_with_summaries() -> None:
    proc = _run_cli("list", "methods")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == sorted(["ce", "coteaching", "discrimloss", "gce", "superloss"])
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # every entry has a summary


def test_cli_bad_subcommand_argument_is_one_line_exit_2() -> None:
    proc = _run_cli("list", "metods")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'metods'" in proc.stderr
