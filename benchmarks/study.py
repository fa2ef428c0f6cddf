"""Study-level speed: tracking overhead, local worker scaling, the quick study's wall time, RSS and profile.

The measurement lives in :mod:`benchmark.perf.study_speed` (importable from an installed wheel too); this
script only runs it: ``python benchmarks/study.py --help``.
"""

from benchmark.perf.study_speed import main

if __name__ == "__main__":
    main()
