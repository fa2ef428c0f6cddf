"""CIFAR-10 WRN-28-10 epoch time and GPU utilisation on a CUDA device (run by hand; no download needed).

The measurement lives in :mod:`benchmark.perf.gpu` (importable from an installed wheel too); this
script only runs it: ``python benchmarks/gpu.py --help``.
"""

from benchmark.perf.gpu import main

if __name__ == "__main__":
    main()
