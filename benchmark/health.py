"""Budget health: whether a run's numbers can be evidence about its method at all.

A run is healthy when its budget let the method do what it is meant to do: every schedule of the method
(``LossMethod.schedule_epochs``) reached its final form inside the epochs, training converged (the clean
part of the training set is no longer being learnt fast, and the training loss has plateaued), and the
per-sample weights did not collapse to one value. A cell is healthy when its tuning completed its budget
and every repeat run is healthy. Failing cells are reported, never hidden: their numbers describe the
budget, not the method.

The thresholds are plain constants, chosen to flag clear failures (a starved 1-epoch run, a curve still
climbing, σ all at a clamp), not to grade runs:

* plateau: the last ``PLATEAU_WINDOW`` share of the epochs (at least 2) holds at most ``PLATEAU_SHARE``
  (clean-part training metric) or ``LOSS_PLATEAU_SHARE`` (training loss) of the run's total improvement
  of the series; a curve needs the window + 1 epochs to tell;
* clean-part training accuracy: also at most ``CLEAN_DROP_PP`` points below its best epoch at the end,
  a failure only on clean labels (training that falls back is unstable); where labels are corrupted the
  same drop is the memorisation of the wrong labels the benchmark measures (CE at rate 0.4 on digits:
  95.0 → 89.1), evidence about the method, so it is a note;
* learning at all: the clean-part training accuracy ends more than ``NEAR_CHANCE`` of the way from
  chance to 100 %;
* collapse: coefficient of variation std/|mean| of the weights below ``COLLAPSE_CV``, a failure only where
  some training labels are corrupted. On clean labels a collapse is what a method does once it fits the
  whole training set (SuperLoss: every σ* at its maximum e, docs/recipes.md section 7); there is nothing to
  tell apart, so the cell's numbers stay evidence about the method. It is still recorded
  (``weights_collapsed``) and noted in ``notes``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from benchmark.naming import higher_is_better

__all__ = [
    "CLEAN_DROP_PP",
    "COLLAPSE_CV",
    "LOSS_PLATEAU_SHARE",
    "NEAR_CHANCE",
    "PLATEAU_SHARE",
    "PLATEAU_WINDOW",
    "cell_health",
    "plateau",
    "run_health",
    "tuning_failures",
    "warning_text",
    "weight_spread",
]

PLATEAU_WINDOW = 0.2
PLATEAU_SHARE = 0.1
LOSS_PLATEAU_SHARE = 0.2  # the loss under label noise keeps falling slowly while it memorises
CLEAN_DROP_PP = 5.0
COLLAPSE_CV = 1e-3
NEAR_CHANCE = 0.25


def weight_spread(weights: torch.Tensor) -> torch.Tensor:
    """Coefficient of variation std/|mean| of the weights, a () float64 tensor on their device (0 for
    fewer than two weights, +inf for a zero mean with some spread); no host read."""
    w = weights.detach().double().reshape(-1)
    if w.numel() < 2:
        return torch.zeros((), dtype=torch.float64, device=w.device)
    std = w.std(unbiased=False)
    return torch.where(std > 0, std / w.mean().abs(), torch.zeros_like(std))


def plateau(
    values: Sequence[float], higher_is_better: bool, share: float = PLATEAU_SHARE
) -> tuple[bool, str]:
    """Whether a per-epoch series has plateaued, and why not.

    The improvement over the last ``max(2, ceil(PLATEAU_WINDOW · n))`` epochs must be at most ``share``
    of the improvement since the first epoch (a series that got worse has plateaued); a straight line
    puts about ``PLATEAU_WINDOW`` of its rise there, so ``share`` below that flags it.
    """
    vals = [v for v in values if math.isfinite(v)]
    window = max(2, math.ceil(PLATEAU_WINDOW * len(vals)))
    if len(vals) < window + 1:
        return False, f"{len(vals)} epoch(s) are too few to see a plateau (needs {window + 1})"
    sign = 1.0 if higher_is_better else -1.0
    recent = sign * (vals[-1] - vals[-1 - window])
    total = sign * (vals[-1] - vals[0])
    if recent <= 0 or recent <= share * total:
        return True, ""
    return False, f"still improving: {recent:.3g} of {total:.3g} in the last {window} epochs"


def run_health(
    history: Sequence[Mapping[str, float]],
    metric: str,
    epochs: int,
    schedule: Mapping[str, float],
    weights_constant: bool,
    num_classes: int | None = None,
    corrupted: bool = True,
) -> dict[str, Any]:
    """The budget-health checks of one run from its per-epoch history.

    Args:
        history: per-epoch rows with ``train/loss``, ``train/{metric}_clean`` and ``diag/weight_spread``.
        metric: ``acc`` (higher is better) or ``mae``.
        epochs: the planned epochs of the run.
        schedule: the method's ``schedule_epochs()``.
        weights_constant: the method's ``weights_constant_by_design()``.
        num_classes: classes of a classification task: a clean-part training accuracy that ends within
            ``NEAR_CHANCE`` of the way from chance (100/C) to 100 % means the model learnt nothing.
        corrupted: some training labels are corrupted; with some, a falling clean-part accuracy is
            memorisation (a note), without any, a weight collapse is a note; neither is then a failure.

    Returns:
        ``schedules_finished``, ``converged``, ``weights_collapsed`` (None without weights), the clean-part
        values at the last and best epochs, the final weight spread, ``failures`` (reasons, empty when
        healthy) and ``notes`` (what was seen but fails nothing).
    """
    failures: list[str] = []
    notes: list[str] = []
    late = {k: v for k, v in schedule.items() if not v < epochs}
    for name, epoch in sorted(late.items()):
        failures.append(f"schedule {name} ends at epoch {epoch:.3g}, after the {epochs} epochs")
    higher = higher_is_better(metric)
    clean = [float(r.get(f"train/{metric}_clean", math.nan)) for r in history]
    loss = [float(r.get("train/loss", math.nan)) for r in history]
    finite = [v for v in clean if math.isfinite(v)]
    last = finite[-1] if finite else math.nan
    best = (max(finite) if higher else min(finite)) if finite else math.nan
    converged = len(history) == epochs and bool(finite)
    if len(history) < epochs:
        failures.append(f"stopped after {len(history)} of {epochs} epochs")
    ok, why = plateau(clean, higher)
    if not ok:
        converged = False
        failures.append(f"not converged: clean-part training {metric} {why}")
    if finite and higher and best - last > CLEAN_DROP_PP:
        fell = f"clean-part training acc fell from {best:.1f} to {last:.1f}"
        if corrupted:
            notes.append(f"{fell} (memorisation of the corrupted labels)")
        else:
            converged = False
            failures.append(fell)
    if finite and higher and num_classes:
        chance = 100.0 / num_classes
        if last < chance + NEAR_CHANCE * (100.0 - chance):
            converged = False
            failures.append(
                f"clean-part training acc {last:.1f} is near chance ({chance:.1f}): nothing learnt"
            )
    ok, why = plateau(loss, higher_is_better=False, share=LOSS_PLATEAU_SHARE)
    if not ok:
        converged = False
        failures.append(f"not converged: training loss {why}")
    spreads = [float(r.get("diag/weight_spread", math.nan)) for r in history]
    spread = spreads[-1] if spreads else math.nan
    collapsed: bool | None = None
    if math.isfinite(spread) and not weights_constant:
        collapsed = spread < COLLAPSE_CV
        if collapsed:
            what = f"per-sample weights collapsed (spread {spread:.2g})"
            (failures if corrupted else notes).append(what if corrupted else f"{what} on clean labels")
    return {
        "schedules_finished": not late,
        "converged": converged,
        "weights_collapsed": collapsed,
        "clean_last": last,
        "clean_best": best,
        "weight_spread": spread,
        "failures": failures,
        "notes": notes,
    }


def tuning_failures(completed: int, budget: int) -> list[str]:
    """The cell-level check: tuning completed its budget of trials."""
    if completed >= budget:
        return []
    return [f"tuning completed {completed} of {budget} trials (the cap of pruned/failed trials was hit)"]


def cell_health(rows: Iterable[Mapping[str, Any]]) -> tuple[bool, list[str]]:
    """Whether a cell's results.csv rows are all healthy, and the distinct failures (seed-tagged)."""
    failures: list[str] = []
    for row in rows:
        text = str(row.get("health") or "")
        if text and text != "ok" and text != "nan":
            for part in text.split("; "):
                if part not in failures:
                    failures.append(part)
    return not failures, failures


def warning_text(unhealthy: Mapping[str, Sequence[str]], what: str = "cell") -> str:
    """The budget-health warning shown at the end of ``run`` and ``train`` and as the report's banner;
    empty when every cell (``what``) is healthy."""
    if not unhealthy:
        return ""
    lines = [
        f"WARNING: budget health: {len(unhealthy)} {what}(s) fail a check; their numbers are not evidence "
        "about the method (the budget did not let it run as designed):"
    ]
    lines += [f"  {cell}: {'; '.join(failures)}" for cell, failures in unhealthy.items()]
    return "\n".join(lines)
