"""Fixtures of the report tests: a results.csv with known answers, written in the results.csv schema.

Design (test_best_val, seeds 1..7, mnist / permute-block, rates 0.2 and 0.4):
* discrimloss = base + s/4 (the best everywhere);
* ce = discrimloss − 1 − s/8: worse on every seed, so the exact Wilcoxon p is 2/2**7 and it stays
  significant after Holm (×2);
* gce at 0.2 = discrimloss + small mixed-sign offsets (not significant → "≈");
* gce at 0.4 = ce + offsets summing to 0: the same cell mean as ce, so ce and gce tie in the ranks.
All values are dyadic fractions, so means are exact and ties are exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest

from benchmark.runs import RESULT_COLUMNS

SEEDS = list(range(1, 8))
GCE_02 = [-0.5, 0.25, -0.375, 0.125, -0.25, 0.0625, -0.125]
GCE_04 = [0.5, -0.5, 0.25, -0.25, 0.75, -0.75, 0.0]
BASE = {0.2: 97.0, 0.4: 95.0}


def best_val(method: str, rate: float, i: int) -> float:
    """The fixture's test_best_val for seed index i (seed = i + 1)."""
    s = SEEDS[i]
    dl = BASE[rate] + s / 4
    ce = dl - 1 - s / 8
    if method == "discrimloss":
        return dl
    if method == "ce":
        return ce
    return dl + GCE_02[i] if rate == 0.2 else ce + GCE_04[i]


def make_results(study: str = "fixture") -> pd.DataFrame:
    rows = []
    for rate in (0.2, 0.4):
        for method in ("ce", "gce", "discrimloss"):
            for i, seed in enumerate(SEEDS):
                v = best_val(method, rate, i)
                row = dict.fromkeys(RESULT_COLUMNS, "")
                row.update(
                    study=study, dataset="mnist", noise="permute-block", rate=rate, method=method,
                    registered_method=method, seed=seed,
                    selection="noisy-val", metric="acc", higher_is_better=True, test_last=v - 0.5,
                    test_best_val=v, test_oracle=v + 1.0, val_best=v - 2, best_val_epoch=10,
                    realised_rate=round(rate * 0.9, 3), auroc_noisy_clean=0.5, auroc_noisy_hard=0.5,
                    status="ok", reason="", epochs=20, n_trials=3, params="{}",
                    noisy_labels_sha256=f"sha-{rate}-{seed}", wall_time_s=1.0,
                    run_id=f"{study}/mnist/permute-block/{rate:g}/{method}/repeat/{seed}", mlflow_run_id="",
                )  # fmt: skip
                row["model"] = "lenet"
                rows.append(row)
    failed = dict(rows[0], status="failed", reason="diverged", test_best_val=float("nan"), seed=99)
    rows.append(failed)
    return pd.DataFrame(rows)


@pytest.fixture
def results_df(tmp_path: Path) -> pd.DataFrame:
    """The fixture as read by the report (failed row dropped, types coerced)."""
    from benchmark.report.io import load_results

    return load_results(_write(tmp_path))


def _write(folder: Path) -> Path:
    make_results().to_csv(folder / "results.csv", index=False)
    study = {
        "name": "fixture",
        "config": {"name": "fixture", "seeds": SEEDS, "training": {"epochs": 20}},
        "versions": {"discrimbench": "0.1.0"},
        "timings": {"total_s": 12.5},
    }
    (folder / "study.json").write_text(json.dumps(study), encoding="utf-8")
    return folder


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    """A study folder with results.csv and study.json only (no MLflow / Optuna stores)."""
    folder = tmp_path / "study"
    folder.mkdir()
    return _write(folder)


def write_mlflow_store(study_dir: Path, labels: Mapping[str, str] | None = None) -> str:
    """An MLflow SQLite store of the fixture study in the contract's form: two repeat runs (seeds 1, 2) of
    each method at mnist / permute-block / 0.4 with memorisation and AUROC curves; DiscrimLoss's runs also
    log weight curves and a ``sample_weights.npz``. ``labels``: the study's label → registered method
    (default ``ce`` and ``discrimloss`` under their own names); runs are tagged with the label, as the
    runner tags them."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient

    uri = f"sqlite:///{study_dir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("fixture", artifact_location=(study_dir / "mlartifacts").as_uri())
    for label, method in (labels or {"ce": "ce", "discrimloss": "discrimloss"}).items():
        cell = f"mnist/permute-block/0.4/{label}"
        parent = client.create_run(exp, tags={"discrimbench.role": "cell", "discrimbench.cell": cell})
        for seed in (1, 2):
            tags = {
                "discrimbench.role": "repeat", "discrimbench.cell": cell, "discrimbench.dataset": "mnist",
                "discrimbench.noise": "permute-block", "discrimbench.rate": "0.4",
                "discrimbench.method": label, "discrimbench.seed": str(seed), "discrimbench.status": "ok",
                "mlflow.parentRunId": parent.info.run_id,
            }  # fmt: skip
            run = client.create_run(exp, tags=tags)
            rid = run.info.run_id
            for epoch in range(3):
                client.log_metric(
                    rid, "memo/noisy_acc", 10.0 * epoch * (2 if method == "ce" else 1), step=epoch
                )
                client.log_metric(rid, "memo/true_acc", 50.0 - epoch, step=epoch)
                client.log_metric(rid, "memo/clean_acc", 60.0 + epoch, step=epoch)
                if method == "discrimloss":
                    client.log_metric(rid, "diag/weight_clean_mean", 1.0 + epoch, step=epoch)
                    client.log_metric(rid, "diag/weight_corrupted_mean", 1.0 - 0.2 * epoch, step=epoch)
                auroc = float("nan") if method == "ce" else 0.6 + 0.1 * epoch
                client.log_metric(rid, "diag/auroc_noisy_clean", auroc, step=epoch)
                client.log_metric(rid, "diag/auroc_noisy_hard", auroc - 0.05, step=epoch)
            if method == "discrimloss":
                npz = study_dir / "sample_weights.npz"
                corrupted = np.arange(20) < 8
                np.savez(
                    npz, weights=np.where(corrupted, 0.2, 1.0), corrupted=corrupted, hardness=np.arange(20.0)
                )
                client.log_artifact(rid, str(npz))
                npz.unlink()
            client.set_terminated(rid)
    mlflow.set_tracking_uri(None)  # leave no global state behind
    return uri


def make_big_results(study: str = "big") -> pd.DataFrame:
    """A study as wide and long as a real one: 2 datasets × 2 noises × 3 rates × 5 methods × 3 seeds
    (60 cells: a 60-row per-cell table and 96 paired rows), values from a seeded generator."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for dataset in ("mnist1d", "digitsum"):
        for noise in ("permute-block", "sym-excl"):
            for rate in (0.2, 0.4, 0.6):
                for k, method in enumerate(("ce", "gce", "superloss", "coteaching", "discrimloss")):
                    for seed in (1, 2, 3):
                        v = 90 - 40 * rate + k + float(rng.normal())
                        row = dict.fromkeys(RESULT_COLUMNS, "")
                        row.update(
                            study=study, dataset=dataset, noise=noise, rate=rate, method=method,
                            registered_method=method, seed=seed, selection="noisy-val", metric="acc",
                            higher_is_better=True, test_last=v - 1,
                            test_best_val=v, test_oracle=v + 1, val_best=v, best_val_epoch=5,
                            realised_rate=rate * 0.9, status="ok", epochs=20, n_trials=8, params="{}",
                            noisy_labels_sha256=f"{dataset}{noise}{rate}{seed}", wall_time_s=1.0, model="mlp",
                        )  # fmt: skip
                        rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def big_study_dir(tmp_path: Path) -> Path:
    """A study folder with a 60-cell results.csv and a study.json."""
    folder = tmp_path / "big"
    folder.mkdir()
    make_big_results().to_csv(folder / "results.csv", index=False)
    (folder / "study.json").write_text(json.dumps({"name": "big"}), encoding="utf-8")
    return folder


# The sweeps of the sensitivity fixture (sweeps.csv in the schema `discrimbench run` writes):
# * dl-a: discrimloss, a in 0.1..0.5 at both rates, 4 seeds; point means 80, 84, 86, 85.5, 70 (+ rate
#   offset) with seed offsets ±0.5, ±0.25 (mean 0, sd 0.4564, 95 % t half-width 0.726): the best point
#   is a = 0.3 and only a = 0.4 lies within its interval, so the plateau is [0.3, 0.4], width 0.1;
# * dl-pq: discrimloss, a 2-D grid p × q at rate 0.4 (a heatmap);
# * gce-q: gce, q at rate 0.4 with 4 seeds: 8 runs, below the importance threshold of 20.
SWEEP_SEEDS = (1, 2, 3, 4)
SWEEP_OFFSETS = (-0.5, -0.25, 0.25, 0.5)
DL_A = {0.1: 80.0, 0.2: 84.0, 0.3: 86.0, 0.4: 85.5, 0.5: 70.0}
DL_BASE = {"a": 0.2739100024784782, "p": 0.5441169600504865, "q": None, "clamp_min": 0.07855390412654754}


def make_sweeps(study: str = "fixture") -> pd.DataFrame:
    from benchmark.sweeps.execute import SWEEP_COLUMNS

    rows = []

    def add(sweep: str, method: str, rate: float, point: dict[str, float], value: float, base: dict) -> None:
        for slot_seed, (seed, offset) in enumerate(zip(SWEEP_SEEDS, SWEEP_OFFSETS, strict=True)):
            row = dict.fromkeys((*RESULT_COLUMNS, *SWEEP_COLUMNS), "")
            v = value + offset
            row.update(
                study=study, dataset="mnist", noise="permute-block", rate=rate, method=method, seed=seed,
                selection="noisy-val", protocol="sweep", metric="acc", higher_is_better=True,
                test_last=v - 0.5, test_best_val=v, test_oracle=v + 1.0, status="ok", epochs=20,
                model="lenet", params=json.dumps({**base, **point}), wall_time_s=1.0,
                run_id=f"mnist/permute-block/{rate:g}/{method}@sweep-{sweep}/sweep/{slot_seed}",
                sweep=sweep, swept=json.dumps(point), base=json.dumps(base, sort_keys=True),
                base_kind="defaults", slot=slot_seed,
            )  # fmt: skip
            rows.append(row)

    for rate, shift in ((0.2, 2.0), (0.4, 0.0)):
        for a, mean in DL_A.items():
            add("dl-a", "discrimloss", rate, {"a": a}, mean + shift, DL_BASE)
    for p in (0.5, 1.0):
        for q in (5, 10):
            add("dl-pq", "discrimloss", 0.4, {"p": p, "q": q}, 80.0 + 4 * p + q / 5, DL_BASE)
    for q in (0.3, 0.7):
        add("gce-q", "gce", 0.4, {"q": q}, 75.0 + 10 * q, {"q": 0.7, "k": 0.5})
    return pd.DataFrame(rows)


@pytest.fixture
def sweep_study_dir(study_dir: Path) -> Path:
    """The fixture study with sweeps.csv, and a tuned discrimloss cell that searched a (best a = 0.35)."""
    make_sweeps().to_csv(study_dir / "sweeps.csv", index=False)
    study = json.loads((study_dir / "study.json").read_text(encoding="utf-8"))
    study["cells"] = [
        {"cell": "mnist/permute-block/0.4/discrimloss", "protocol": "tuned", "space": {"a": "U(0.1, 0.5)"},
         "best_params": {"a": 0.35, "p": 0.5441169600504865}},
    ]  # fmt: skip
    (study_dir / "study.json").write_text(json.dumps(study), encoding="utf-8")
    return study_dir
