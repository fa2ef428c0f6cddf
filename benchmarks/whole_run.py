"""A whole run against a bare training loop of the same model (run by hand; also `bench --only run`).

The measurement lives in :mod:`benchmark.perf.whole_run` (importable from an installed wheel too); this
script only runs it: ``python benchmarks/whole_run.py --help``.
"""

from benchmark.perf.whole_run import main

if __name__ == "__main__":
    main()
