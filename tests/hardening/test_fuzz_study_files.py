"""The study-file fuzzer (:mod:`tests.hardening.fuzz_study_files`) in the default suite: a few hundred
generated files in a child process whose address space is capped, none may break the invariant.
``tox -e fuzz`` runs 5,000."""

from __future__ import annotations

import re
import subprocess
import sys

from ._helpers import ENV


def test_a_few_hundred_hostile_study_files_are_refused_or_accepted_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.hardening.fuzz_study_files", "--examples", "250"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counts = re.search(r"accepted (\d+) refused (\d+) failed (\d+)", done.stdout)
    assert counts is not None, done.stdout
    accepted, refused, failed = map(int, counts.groups())
    assert failed == 0 and accepted >= 1 and refused >= 200, done.stdout
    assert "address space capped at" in done.stdout


def test_the_fuzzer_catches_a_broken_invariant(monkeypatch) -> None:
    """The oracle's oracle: with the reader this project had before issue 19 (``yaml.safe_load`` of the
    decoded text), a non-UTF-8 file and an alias are failures; with the strict reader they are refusals."""
    import yaml

    from benchmark import config
    from benchmark.commands import run as run_command
    from tests.hardening.fuzz_study_files import classify

    files = [b"name: caf\xe9\n", b"a: &x [1]\nname: *x\n"]
    assert [classify(f)[0] for f in files] == ["refused", "refused"]

    def old_reader(data: bytes, source: str) -> object:
        return yaml.safe_load(data.decode())

    monkeypatch.setattr(config, "parse_study_text", old_reader)
    monkeypatch.setattr(run_command, "parse_study_text", old_reader)  # `run` reads the text first too
    outcomes = [classify(f) for f in files]
    assert outcomes[0][0] == "failed"
    assert outcomes[0][1].startswith("UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9")
    assert outcomes[1][0] == "refused"  # the alias expands into name=[1], which the schema refuses
