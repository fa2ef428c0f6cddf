"""Step time of each method against the training-set size N (run by hand; also `bench --only scale`).

The measurement lives in :mod:`benchmark.perf.scale` (importable from an installed wheel too); this
script only runs it: ``python benchmarks/scale.py --help``.
"""

from benchmark.perf.scale import main

if __name__ == "__main__":
    main()
