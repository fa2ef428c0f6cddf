"""Reading a study file as untrusted text: bounded size, depth and numbers, no aliases, no duplicate keys.

A study file needs none of YAML's sharper features, and each of them has cost a run: an alias bomb (a 1 KB
file of nested aliases) expands to gigabytes, a key given twice is silently last-wins, a 5,000-digit integer
or a 1,000-deep nesting raises from deep inside Python. :class:`StrictLoader` is ``yaml.SafeLoader`` with
those refused while composing, before anything is expanded, each as one :class:`StudyConfigError` line with
``file:line``.
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import StudyConfigError, short

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "parse_study_text",
    "preset_names",
    "read_study_source",
]

MAX_BYTES = 1_000_000  # the largest packaged preset is a few KB
MAX_DEPTH = 32  # a study file nests 5 levels deep (methods.x.search.p.choices)
MAX_INT_DIGITS = 40  # beyond any count, seed or bound a study uses; Python's own limit is 4,300 digits


class _Refused(yaml.MarkedYAMLError):
    """A construct a study file may not use (raised with the node's mark)."""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases, duplicate keys, deep nesting and huge integers."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(
                problem=f"alias *{event.anchor} is not allowed in a study file (write the value out)",
                problem_mark=event.start_mark,
            )
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "anchor", None) is not None:
            raise _Refused(
                problem=f"anchor &{event.anchor} is not allowed in a study file (write the value out)",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    problem=f"nesting deeper than {MAX_DEPTH} levels (a study file needs about 5)",
                    problem_mark=event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Refused(
                        problem="merge keys (<<) are not allowed", problem_mark=key_node.start_mark
                    )
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # refused by the constructor (unhashable key)
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _Refused(
                        problem=f"key {short(key)} is given twice (lines {seen[key]} and {line}); keep one",
                        problem_mark=key_node.start_mark,
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, IndexError):
            # PyYAML's own constructors raise these for a value their tag cannot hold (!!float abc,
            # !!timestamp x, !!binary ?)
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise _Refused(
                problem=f"{short(node.value)} cannot be read as {tag}", problem_mark=node.start_mark
            ) from None

    def construct_yaml_int(self, node: Any) -> int:
        digits = sum(c.isdigit() or c in "abcdefABCDEF" for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _Refused(
                problem=f"integer of {digits} digits; at most {MAX_INT_DIGITS} are allowed",
                problem_mark=node.start_mark,
            )
        try:
            return int(super().construct_yaml_int(node))
        except ValueError:
            raise _Refused(
                problem=f"{short(node.value)} is not an integer", problem_mark=node.start_mark
            ) from None


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def _decode(data: bytes, source: str) -> str:
    if len(data) > MAX_BYTES:
        raise StudyConfigError(
            f"{source}: {len(data):,} bytes; at most {MAX_BYTES:,} are allowed (presets are a few KB)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StudyConfigError(
            f"{source}:{line}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "save the study file as UTF-8"
        ) from None


def parse_study_text(data: bytes | str, source: str) -> Any:
    """The YAML document in ``data``, read with :class:`StrictLoader`.

    Raises:
        StudyConfigError: too large, not UTF-8, malformed YAML, a tag, alias, anchor, merge key, duplicate
            key, deep nesting or huge integer; one line with ``source:line:column``.
    """
    text = _decode(data, source) if isinstance(data, bytes) else data
    loader = None
    try:
        loader = StrictLoader(text)
        return loader.get_single_data()
    except _Refused as exc:
        mark = exc.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "?"
        raise StudyConfigError(f"{source}:{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        if isinstance(exc, yaml.reader.ReaderError):
            line = text[: exc.position].count("\n") + 1
            raise StudyConfigError(
                f"{source}:{line}: character {exc.character!r} is not allowed in YAML text"
            ) from None
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if context and "constructor" in context:
            problem = f"{context}: {problem}"
        raise StudyConfigError(f"{where}: malformed YAML: {' '.join(str(problem).split())[:200]}") from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise StudyConfigError(f"{source}: nesting too deep") from None
    finally:
        if loader is not None:
            loader.dispose()


def preset_names() -> list[str]:
    """Sorted names of the presets packaged in ``benchmark/presets``."""
    folder = resources.files("benchmark") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_study_source(name_or_path: str) -> tuple[bytes, str]:
    """The bytes of a study file or packaged preset, and how to name it in errors.

    Reads at most ``MAX_BYTES + 1`` bytes, so a huge file is refused without being read whole. This module
    imports neither torch nor the registries: ``discrimbench run`` reads and checks the text before it
    loads anything heavy, so a hostile file is refused in a small process.
    """
    path = Path(name_or_path)
    if path.is_file():
        try:
            with path.open("rb") as fh:
                return fh.read(MAX_BYTES + 1), str(path)
        except OSError as exc:
            raise StudyConfigError(f"{path}: cannot read the study file: {exc.strerror}") from None
    presets = preset_names()
    if name_or_path in presets:
        res = resources.files("benchmark") / "presets" / f"{name_or_path}.yaml"
        return res.read_bytes(), f"preset {name_or_path}"
    close = difflib.get_close_matches(name_or_path, presets, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise StudyConfigError(
        f"{name_or_path!r} is neither a study file (resolved: {path.resolve()}) nor a preset.{hint} "
        f"Presets: {', '.join(presets)}"
    )
