"""Sensitivity sweeps: the ``sweeps:`` section of study files and their execution (their report section is
:mod:`benchmark.report.sensitivity`, which reads ``sweeps.csv``; nothing here imports the report).

A sweep varies one hyperparameter (or a pair) of one method around a base configuration, over a grid,
repeating every point over the study's seeds. Each (sweep, dataset, noise, rate) is a :class:`SweepCell`: an
Optuna study whose trials are the grid points × seeds, enqueued once, so the storages, ``--workers``, resume
after a kill and MLflow tracking of the tuned cells apply unchanged.
"""

from benchmark.sweeps.spec import BASE_TUNED, SweepCell, resolve_sweeps

__all__ = ["BASE_TUNED", "SweepCell", "resolve_sweeps"]
