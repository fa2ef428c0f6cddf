"""Everything a run checks before its first epoch, checked once, before anything is created.

:func:`preflight` is called by :func:`benchmark.study.plan_study`, which both ``discrimbench run --dry-run``
and the real run go through, so the dry run accepts a study exactly when the real run gets past its setup.
It leaves nothing behind: it never creates the output folder, a store or a file (a folder is proved writable
by a probe directory made and removed at once). Each problem is one clause naming the key, a truncated
rendering of the value and what would be accepted; all are joined into one :class:`StudyConfigError` line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

from benchmark.errors import DiscrimBenchError, StudyConfigError, short
from benchmark.naming import is_journal_url, is_sqlite_url, journal_path, sqlite_path
from benchmark.output_files import folder_problem

if TYPE_CHECKING:
    from benchmark.config import ResolvedStudy

__all__ = ["SAMPLE_PASSES_MAX", "WORKERS_MAX", "preflight"]

WORKERS_MAX = 256
# epochs × training samples of one run: 10^9 passes is days of CPU time even for the smallest model
SAMPLE_PASSES_MAX = 10**9
_SIZE_KEYS = ("num_samples", "n_train")
_RDB_SCHEMES = ("postgresql", "postgres", "mysql")
_KEYED = re.compile(r"^(training|noises|datasets|storage|methods|tuning)\.[\w.-]+[=: ]")


class PlannedRun(Protocol):
    """What preflight reads of a plan (``benchmark.study.StudyPlan``), named here so that the check does
    not import the planner that calls it."""

    @property
    def study(self) -> ResolvedStudy: ...
    @property
    def workers(self) -> int: ...
    @property
    def out(self) -> Path: ...
    @property
    def storage_url(self) -> str: ...
    @property
    def tracking_uri(self) -> str | None: ...


def preflight(plan: PlannedRun) -> None:
    """Check device, recipes, datasets, noises, sizes, output folder and storages without writing.

    Raises:
        StudyConfigError: every problem found, joined into one line.
    """
    study = plan.study
    errors: list[str] = []
    _check(errors, "training.device", lambda: _device(study.config.training.device))
    for name in study.config.datasets:
        _check(errors, f"datasets.{name}", partial(_dataset, study, name))
    if not 1 <= plan.workers <= WORKERS_MAX:
        errors.append(f"--workers={short(plan.workers)}: need 1 <= workers <= {WORKERS_MAX}")
    found = len(errors)
    _check(errors, "--out", lambda: _creatable_folder(plan.out, "the output folder"))
    if len(errors) == found:  # the default stores live in --out: one problem, said once
        _check(errors, "storage.optuna", lambda: _optuna_url(plan.storage_url, plan.out))
        _check(errors, "storage.mlflow", lambda: _mlflow_uri(plan.tracking_uri))
    if errors:
        raise StudyConfigError(f"{study.source}: " + "; ".join(dict.fromkeys(errors)))


def _check(errors: list[str], key: str, check: Callable[[], None]) -> None:
    try:
        check()
    except DiscrimBenchError as exc:
        message = " ".join(str(exc).split())
        errors.append(message if _KEYED.match(message) else f"{key}: {message}")


def _device(name: str) -> None:
    from benchmark.engine.device import resolve_device

    resolve_device(name)


def _dataset(study: ResolvedStudy, name: str) -> None:
    """The recipe the runs will use, the noises the dataset can take, its files and its size."""
    from benchmark.data._adapter import get_adapter, resolve_data_root
    from benchmark.engine.recipe import resolve_recipe

    config = study.config
    training = config.training
    adapter = get_adapter(name, **config.datasets[name])
    try:
        recipe = resolve_recipe(adapter.recipe(training.recipe_kind), training.recipe, training.epochs)
    except DiscrimBenchError as exc:
        raise StudyConfigError(f"training.{exc} (dataset {name})") from None
    applicable = adapter.applicable_noises()
    for noise in config.noises:
        if noise not in applicable:
            raise StudyConfigError(
                f"noises.{noise}: cannot run on dataset {name!r} (noises it takes: {', '.join(applicable)})"
            )
    root = resolve_data_root(training.data_root)
    if not adapter.is_present(root):
        # the adapter's own message: the first missing file, where it goes and how to get it (the
        # `data prepare NAME --download` command where torchvision fetches it, else the official source)
        adapter.load(root)
    samples = max((adapter.kwargs.get(k) or 0 for k in _SIZE_KEYS), default=0)
    if isinstance(samples, int) and recipe.epochs * samples > SAMPLE_PASSES_MAX:
        raise StudyConfigError(
            f"epochs × samples = {recipe.epochs:,} × {samples:,} exceeds {SAMPLE_PASSES_MAX:,} sample passes "
            "per run (days of compute); lower training.epochs or the dataset's size"
        )


def _creatable_folder(folder: Path, what: str) -> None:
    """``folder`` is a writable folder, or can be created (:func:`benchmark.output_files.folder_problem`)."""
    problem = folder_problem(folder.expanduser())
    if problem is None:
        return
    if problem.not_a_folder:
        raise StudyConfigError(
            f"{what} {short(str(folder), 120)} cannot be created: {problem.anchor} is not a folder"
        )
    raise StudyConfigError(f"{what} {short(str(folder), 120)} is not writable ({problem.reason})")


def _optuna_url(url: str, out: Path) -> None:
    """SQLite and journal files need a folder that exists or will be created; RDB servers must answer."""
    scheme = url.split(":", 1)[0].split("+", 1)[0] if "://" in url else ""
    if is_journal_url(url):
        _creatable_folder(journal_path(url).parent, f"the journal folder of {short(url)}")
    elif is_sqlite_url(url):
        _sqlite_folder(url, out, "Optuna")
    elif scheme in _RDB_SCHEMES:
        _rdb_reachable(url, "Optuna storage")
    else:
        raise StudyConfigError(
            f"{short(url)} is not a supported Optuna storage (sqlite:///FILE, "
            "postgresql://USER:PASS@HOST/DB, mysql://…, journal:///PATH or a PATH ending in .journal)"
        )


def _sqlite_folder(url: str, out: Path | None, what: str) -> None:
    path = sqlite_path(url)
    if path is None:
        raise StudyConfigError(f"{short(url)} names no {what} database file (sqlite:///ABSOLUTE/PATH.db)")
    parent = path.absolute().parent
    inside_out = out is not None and (parent == out.absolute() or out.absolute() in parent.parents)
    if not parent.is_dir() and not inside_out:
        raise StudyConfigError(
            f"{short(url)}: the folder {short(str(parent), 120)} does not exist (SQLite creates the file, "
            "not its folder)"
        )
    _creatable_folder(parent, f"the folder of {short(url)}")


def _rdb_reachable(url: str, what: str) -> None:
    """Connect once (no table is created); a server that does not answer in 10 s is refused."""
    import sqlalchemy

    from benchmark.tracking import mask_url

    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 10})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver's error: a bad URL, no driver, no server
        reason = " ".join(str(exc).split("\n")[0].split())
        password = urlparse(url).password
        if password:
            reason = reason.replace(password, "***")
        raise StudyConfigError(f"cannot reach {what} {mask_url(url)}: {short(reason, 160)}") from None


def _mlflow_uri(uri: str | None) -> None:
    """``None`` (SQLite in the output folder), ``none``, ``sqlite:///``, a local path / ``file://``, an
    HTTP server or a database."""
    if uri is None or uri.strip().lower() in {"none", "off", "false", ""}:
        return
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        _sqlite_folder(uri, None, "MLflow")
    elif scheme in ("", "file"):
        path = parsed.path if scheme == "file" else uri
        if scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise StudyConfigError(f"{short(uri)}: a file store must be on this machine (file:///PATH)")
        _creatable_folder(Path(path), "the MLflow file store")
    elif scheme in ("http", "https"):
        if not parsed.hostname:
            raise StudyConfigError(f"{short(uri)} names no host (http://HOST:PORT)")
    elif scheme in _RDB_SCHEMES:
        _rdb_reachable(uri, "MLflow store")
    else:
        raise StudyConfigError(
            f"{short(uri)} is not an MLflow tracking URI this benchmark supports (none, sqlite:///FILE, a "
            "folder or file:///FOLDER, http(s)://HOST, postgresql://…, mysql://…)"
        )
