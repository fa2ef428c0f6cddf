"""Reading a study folder for the report: results.csv, study.json and where the stores are.

Only files named in docs/contracts.md ("Study outputs") are read. A missing or malformed results.csv is a
user error (one line, exit 2); a missing study.json or store only means fewer sections in the report.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.errors import DataCorruptError, DataMissingError, StudyConfigError
from benchmark.naming import METRICS, default_mlflow_uri, default_optuna_url, higher_is_better

__all__ = [
    "METRIC_COLUMNS",
    "REQUIRED_COLUMNS",
    "baseline_methods",
    "comparison_baselines",
    "hardness_reference_label",
    "load_results",
    "load_study_json",
    "method_names",
    "method_order",
    "method_weight_kinds",
    "mlflow_uri",
    "optuna_storage_url",
    "registered_method",
    "resolve_study_dir",
]

REQUIRED_COLUMNS: tuple[str, ...] = (
    "dataset",
    "noise",
    "rate",
    "method",
    "seed",
    "metric",
    "test_last",
    "test_best_val",
    "test_oracle",
)
METRIC_COLUMNS: tuple[str, ...] = ("test_last", "test_best_val", "test_oracle")
_NUMERIC = (*METRIC_COLUMNS, "rate", "realised_rate", "val_best", "n_trials", "epochs", "wall_time_s")


def resolve_study_dir(target: Path) -> Path:
    """A study folder as given, or the output folder of a study YAML (via ``benchmark.config``).

    Raises:
        DataMissingError: the path does not exist.
        StudyConfigError: a YAML was given but ``benchmark.config.load_study`` is not available.
    """
    if not target.exists():
        raise DataMissingError(
            f"study folder or file not found: {target} (give a study folder or STUDY.yaml)"
        )
    if target.is_dir():
        return target
    if target.suffix.lower() in {".yaml", ".yml"}:
        try:
            from benchmark.config import load_study  # written by the study-config part
        except ImportError as exc:
            raise StudyConfigError(
                f"cannot resolve {target} to its output folder: benchmark.config is not available; "
                "give the study folder instead"
            ) from exc
        study = load_study(str(target))
        return Path(study.out)
    raise StudyConfigError(f"expected a study folder or a .yaml study file, got {target}")


def load_results(study_dir: Path) -> pd.DataFrame:
    """The repeat runs of a study (``status == "ok"`` rows) as a typed DataFrame.

    Raises:
        DataMissingError: no results.csv in the folder.
        DataCorruptError: it cannot be parsed, lacks a required column or has non-numeric metrics.
    """
    path = study_dir / "results.csv"
    if not path.is_file():
        raise DataMissingError(
            f"no results.csv in {study_dir} (run the study first: discrimbench run STUDY.yaml)"
        )
    check_complete_rows(path)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataCorruptError(f"{path} is not a readable CSV: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataCorruptError(
            f"{path} lacks required column(s) {', '.join(missing)}; expected benchmark.runs.RESULT_COLUMNS"
        )
    for col in _NUMERIC:
        if col in df.columns:
            converted = pd.to_numeric(df[col], errors="coerce")
            bad = converted.isna() & df[col].notna()
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise DataCorruptError(
                    f"{path}: column {col} must be numeric, got {df[col].iloc[row]!r} in data row {row + 1}"
                )
            df[col] = converted.astype(float)
    bad_metric = sorted(set(df["metric"].astype(str)) - set(METRICS))
    if bad_metric:
        raise DataCorruptError(f"{path}: column metric must be {' or '.join(METRICS)}, got {bad_metric[0]!r}")
    if "status" in df.columns:
        df = df[df["status"].fillna("ok").astype(str) == "ok"]
    df = df.copy()
    df["higher_is_better"] = df["metric"].astype(str).map(higher_is_better).astype(bool)
    for col in ("dataset", "noise", "method"):
        df[col] = df[col].astype(str)
    if "registered_method" in df.columns:  # absent from results.csv files written before the column
        named = df["registered_method"].astype(object)  # an all-blank column is read as float NaN
        df["registered_method"] = named.where(named.notna(), "").astype(str)
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").astype("Int64")
    return label_protocols(df).reset_index(drop=True)


def label_protocols(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of a protocol other than ``tuned`` (``paper-official``: the authors' fixed hyperparameters,
    test-set epoch selection) become their own method, ``"{method} [{protocol}]"``, in every table and
    figure, so they are never averaged with the tuned runs and always carry their label."""
    if "protocol" not in df.columns:
        return df
    protocol = df["protocol"].astype(object).where(df["protocol"].notna(), "tuned").astype(str)
    other = (protocol != "tuned") & (protocol != "")
    df.loc[other, "method"] = df.loc[other, "method"] + " [" + protocol[other] + "]"
    return df


def base_method(label: str) -> str:
    """The registry name of a (possibly protocol-labelled) method."""
    return label.split(" [", 1)[0]


def method_order(df: pd.DataFrame) -> list[str]:
    """The methods (labels) of results rows in their first appearance: the study file's order, as the
    runner writes the rows cell by cell in that order."""
    return list(dict.fromkeys(df["method"].astype(str))) if "method" in df else []


def method_names(study: dict[str, Any], df: pd.DataFrame | None = None) -> dict[str, str]:
    """Label → registered method, from study.json's method entries (``x: {method: discrimloss, ...}``
    maps ``x`` to ``discrimloss``; an entry without ``method`` is its own name), then for labels study.json
    lacks from results.csv's ``registered_method`` column (``df`` of :func:`load_results`, before or after
    its protocol labels). Empty when neither says."""
    names: dict[str, str] = {}
    if df is not None and "registered_method" in df:
        for label, name in zip(df["method"].astype(str), df["registered_method"], strict=True):
            if isinstance(name, str) and name:
                names.setdefault(base_method(label), name)
    config = study.get("config")
    methods = config.get("methods") if isinstance(config, dict) else None
    for label, entry in (methods if isinstance(methods, dict) else {}).items():
        name = entry.get("method") if isinstance(entry, dict) else None
        names[str(label)] = str(name) if name else str(label)
    return names


def registered_method(label: str, names: dict[str, str]) -> str:
    """The registered method behind a results label (protocol-labelled ones included,
    ``"x [paper-official]"``): ``names`` (:func:`method_names`) says, else the label is the name."""
    base = base_method(label)
    return names.get(base, base)


def method_weight_kinds(labels: list[str], names: dict[str, str]) -> dict[str, str | None]:
    """Label → what its method's per-sample weights are (``LossMethod.weight_kind``, asked of the
    registered method, so a labelled variant gets its method's figures); None: no weights or not installed."""
    from benchmark.registry import method_weight_kind  # the methods (torch): only when weights are drawn

    return {label: method_weight_kind(registered_method(label, names)) for label in labels}


def baseline_methods() -> list[str]:
    """The installed methods that say ``comparison_baseline``, by name: what the paired comparisons look
    for in a study."""
    from benchmark.registry import METHODS, method_class

    return [n for n in METHODS.names() if (cls := method_class(n)) is not None and cls.comparison_baseline]


def comparison_baselines(df: pd.DataFrame) -> list[str]:
    """The labels the paired comparisons measure the others against, in the study's order: those that
    are a registered method's own name whose method says ``comparison_baseline`` (a labelled variant is
    compared, not a baseline)."""
    wanted = set(baseline_methods())
    return [label for label in method_order(df) if label in wanted]


def hardness_reference_label(labels: list[str], names: dict[str, str]) -> str | None:
    """The label whose registered method sets ``hardness_reference`` (the plain task loss), the line
    other methods are read against: a label that is the method's own name before a labelled variant,
    never a protocol label (``"x [paper-official]"``); None when the study has none."""
    from benchmark.registry import method_class

    found = []
    for label in labels:
        cls = method_class(registered_method(label, names))
        if label == base_method(label) and cls is not None and cls.hardness_reference:
            found.append(label)
    own = [label for label in found if label == registered_method(label, names)]
    return (own or found)[0] if found else None


def check_complete_rows(path: Path) -> None:
    """Refuse a results.csv that pandas would read silently wrong: no data row, or a row with fewer
    fields than the header (a copy or a write cut short; pandas fills the missing cells with NaN).

    Raises:
        DataCorruptError: naming the file and the line (1 is the header).
    """
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise DataCorruptError(f"{path} is empty: expected a header and one row per repeat run")
            rows = 0
            for row in reader:
                if not row:
                    continue
                rows += 1
                if len(row) != len(header):
                    raise DataCorruptError(
                        f"{path}, line {reader.line_num}: {len(row)} fields where the header has "
                        f"{len(header)} (a truncated or damaged row); rewrite it by re-running the study"
                    )
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataCorruptError(f"{path} is not a readable CSV: {exc}") from exc
    if rows == 0:
        raise DataCorruptError(
            f"{path} has a header but no rows: the study recorded no finished repeat run yet "
            "(run or resume it: discrimbench run STUDY.yaml)"
        )


def load_study_json(study_dir: Path) -> dict[str, Any]:
    """study.json as a dict, or {} when absent (older or hand-made study folders)."""
    path = study_dir / "study.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataCorruptError(f"{path} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _find_key(data: Any, keys: tuple[str, ...]) -> str | None:
    """The first string value under any of ``keys``, searched breadth-first through nested dicts."""
    queue = [data]
    while queue:
        item = queue.pop(0)
        if isinstance(item, dict):
            for key in keys:
                value = item.get(key)
                if isinstance(value, str) and value:
                    return value
            queue.extend(v for v in item.values() if isinstance(v, dict))
    return None


def _recorded(study: dict[str, Any], key: str) -> str | None:
    """``study.json["storage"][key]`` as written by the study runner (None, "default" or a masked URL with
    "***" in it mean: use the default location)."""
    storage = study.get("storage")
    value = storage.get(key) if isinstance(storage, dict) else None
    if not isinstance(value, str) or value in ("", "default") or "***" in value:
        return None
    return value


def mlflow_uri(study_dir: Path, study: dict[str, Any]) -> str:
    """The MLflow tracking URI recorded in study.json, else the embedded default."""
    found = _recorded(study, "mlflow") or _find_key(study, ("tracking_uri", "mlflow_tracking_uri"))
    return found or default_mlflow_uri(study_dir)


def optuna_storage_url(study_dir: Path, study: dict[str, Any]) -> str:
    """The Optuna storage recorded in study.json, else the journal or SQLite file in the folder."""
    found = _recorded(study, "optuna") or _find_key(study, ("optuna_storage", "storage_url"))
    if found:
        return found
    return default_optuna_url(study_dir)


def is_nan(value: Any) -> bool:
    """True for NaN/None/unparseable values, for formatting code that meets pandas' missing values."""
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return False
