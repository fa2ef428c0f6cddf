"""The user attributes DiscrimBench records on Optuna trials, and the owner id it records in them."""

from __future__ import annotations

import os
import socket

__all__ = ["ATTR", "owner_id"]

ATTR = {
    "owner": "discrimbench.owner",
    "slot": "discrimbench.slot",
    "surplus": "discrimbench.surplus",
    "reason": "discrimbench.reason",
    "status": "discrimbench.status",
    "result": "discrimbench.result",
    "mlflow": "discrimbench.mlflow_run_id",
    "seed": "discrimbench.seed",
    "interrupted": "discrimbench.interrupted",
}


def owner_id() -> str:
    """``host:pid`` of this process, recorded on every trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"
