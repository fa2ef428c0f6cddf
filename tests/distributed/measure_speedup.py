"""Wall time of one study run by 1, 2 and 4 workers through the README's multi-machine recipe, on this host.

    python tests/distributed/measure_speedup.py postgresql://USER:PASSWORD@127.0.0.1:5432/postgres

Each worker is a ``discrimbench run`` with the recipe's command line (PostgreSQL Optuna storage, the MLflow
tracking server) and its own output folder, as on its own machine; the clock runs from starting the workers
to the last one's exit (the tracking server is started before). Every measurement gets fresh databases. The
configurations run in rotated order over ``--rounds`` rounds; the load average is printed beside each, since
local workers share the host's cores with everything else on it (on 2 cores, 4 workers cannot beat 2).
Not a test: it prints numbers for the README.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_multi_machine import _run_command, _stop, _tracking_server

STUDY = {
    "name": "speedup",
    "datasets": {"digits": {}},
    "noises": {"sym-excl": {"rates": [0.0, 0.4]}},
    "methods": ["ce", "gce", "discrimloss"],
    "seeds": [1, 2, 3],
    "tuning": {"n_trials": 4, "sampler_seed": 3, "pruner": "none"},
    "training": {"epochs": 40, "device": "cpu", "threads": 1},
}
"""36 runs of 40 epochs on digits (2 × 4 CE, 4 × 7 GCE and DiscrimLoss: trials and repeats): big enough
that training, not each worker's start (imports, stores, the clean CE cell every other cell waits for),
decides the time; with 2 epochs per run one worker took 15 s and two took 20 s on an idle 2-core host."""


def _databases(admin_url: str, create: bool, names: list[str]) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in names:
            sql = f"CREATE DATABASE {name}" if create else f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            conn.execute(sqlalchemy.text(sql))
    engine.dispose()


def measure(admin_url: str, workers: int, folder: Path) -> float:
    """Seconds from starting ``workers`` recipe workers on fresh databases to the last one's exit."""
    names = [f"db_speedup_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("optuna", "mlflow")]
    root = admin_url.rsplit("/", 1)[0]
    _databases(admin_url, True, names)
    study = folder / "speedup.yaml"
    study.write_text(yaml.safe_dump(STUDY))
    server, tracking = _tracking_server(f"{root}/{names[1]}", folder)
    try:
        machines = [folder / f"machine-{i}" for i in range(workers)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        start = time.perf_counter()
        procs = []
        for machine in machines:
            machine.mkdir()
            command = _run_command(study, f"{root}/{names[0]}", tracking)
            procs.append(subprocess.Popen(command, cwd=machine, env=env, stdout=subprocess.DEVNULL))
        codes = [p.wait() for p in procs]
        seconds = time.perf_counter() - start
        if any(codes):
            raise SystemExit(f"a worker failed: exit codes {codes}")
        return seconds
    finally:
        _stop(server)
        _databases(admin_url, False, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("admin_url", help="a PostgreSQL URL of a role that can CREATE DATABASE")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    times: dict[int, list[float]] = {n: [] for n in args.workers}
    for r in range(args.rounds):
        order = args.workers[r % len(args.workers) :] + args.workers[: r % len(args.workers)]
        for n in order:
            with tempfile.TemporaryDirectory() as tmp:
                before = os.getloadavg()[0]
                seconds = measure(args.admin_url, n, Path(tmp))
                after = os.getloadavg()[0]
            times[n].append(seconds)
            print(f"round {r + 1}: {n} worker(s) {seconds:.1f} s (load average {before:.1f} → {after:.1f})")
    base = sorted(times[args.workers[0]])[len(times[args.workers[0]]) // 2]
    for n, values in times.items():
        median = sorted(values)[len(values) // 2]
        print(f"{n} worker(s): median {median:.1f} s, speed-up {base / median:.2f}× over {args.workers[0]}")


if __name__ == "__main__":
    main()
