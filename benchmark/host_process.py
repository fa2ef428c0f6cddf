"""Whether a process of this host is still alive: how a resumed study tells a crashed worker's leftovers
(Optuna trials, MLflow runs) from work that another live process still owns."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
