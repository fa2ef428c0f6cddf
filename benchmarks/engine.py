"""Speed of the training engine, measured side by side in one process (run by hand, not in the tests).

The measurement lives in :mod:`benchmark.perf.engine_speed` (importable from an installed wheel too); this
script only runs it: ``python benchmarks/engine.py --help``.
"""

from benchmark.perf.engine_speed import main

if __name__ == "__main__":
    main()
