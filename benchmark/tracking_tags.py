"""The MLflow tags by which DiscrimBench recognises its own runs across processes and resumes.

Shared by :mod:`benchmark.tracking` (which sets them) and the writer process (which reaps the runs of dead
owners); kept in a module of their own so that neither imports the other for three strings.
"""

from __future__ import annotations

__all__ = ["OWNER_TAG", "REPLACES_TAG", "UNIT_TAG"]

OWNER_TAG = "discrimbench.owner"  # host:pid of the process that trains the run
UNIT_TAG = "discrimbench.unit"  # cell/role/slot-or-seed: the same for every attempt at one piece of work
REPLACES_TAG = "discrimbench.replaces"  # the run id of the killed attempt this run retries
