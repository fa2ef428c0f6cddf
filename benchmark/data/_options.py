"""Options of datasets and noise generators: declared defaults, updated by the user, unknown names refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.errors import DiscrimBenchError, did_you_mean


def merge_options(
    what: str,
    word: str,
    defaults: Mapping[str, Any],
    given: Mapping[str, Any],
    error: type[DiscrimBenchError],
) -> dict[str, Any]:
    """``defaults`` updated with ``given``; the first unknown name raises ``error`` with the allowed ones.

    Args:
        what: the component in the message, e.g. ``"dataset 'digits'"``.
        word: what an option is called for it ("option", "parameter").
    """
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "(none)"
        hint = did_you_mean(unknown[0], defaults)
        raise error(
            f"{what} has no {word} {unknown[0]!r} (value {given[unknown[0]]!r}); allowed: {allowed}{hint}"
        )
    return {**defaults, **given}
