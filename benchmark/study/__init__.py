"""Run a study: plan it, claim its work through the Optuna ledger, train, and write its outputs.

One module per job: :mod:`~benchmark.study.plan` (stores and checks), :mod:`~benchmark.study.ledger`
(the cells' Optuna studies: trial and seed accounting, results rows), :mod:`~benchmark.study.worker`
(the claim-and-run loop) with :mod:`~benchmark.study.execute` (one tracked run) and
:mod:`~benchmark.study.hardness`, :mod:`~benchmark.study.processes` (``--workers`` helpers),
:mod:`~benchmark.study.parents` (MLflow parent runs), :mod:`~benchmark.study.outputs` (files in the study
folder) and :mod:`~benchmark.study.run` (the whole run).
"""

from __future__ import annotations

from benchmark.study.ledger import (
    best_params,
    best_trial,
    cell_state,
    collect_rows,
    count_progress,
    result_row,
    tuning_summary,
)
from benchmark.study.outputs import (
    cell_line,
    check_writable,
    environment,
    masked,
    unhealthy_cells,
    write_results,
    write_study_json,
)
from benchmark.study.parents import parent_health
from benchmark.study.plan import StudyPlan, plan_study, study_name
from benchmark.study.processes import lost_storage_message
from benchmark.study.run import run_study, setup_storage
from benchmark.study.worker import work

__all__ = [
    "StudyPlan",
    "best_params",
    "best_trial",
    "cell_line",
    "cell_state",
    "check_writable",
    "collect_rows",
    "count_progress",
    "environment",
    "lost_storage_message",
    "masked",
    "parent_health",
    "plan_study",
    "result_row",
    "run_study",
    "setup_storage",
    "study_name",
    "tuning_summary",
    "unhealthy_cells",
    "work",
    "write_results",
    "write_study_json",
]
