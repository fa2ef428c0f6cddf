"""Metrics computed on the device (read back once per epoch, never per batch)."""

from __future__ import annotations

import math

import torch

__all__ = ["accuracy", "auroc", "hard_clean_mask", "label_accuracy", "mae"]


def accuracy(output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy in % of (N, C) logits against (N,) int targets; NaN when N == 0. () float tensor."""
    return label_accuracy(output.argmax(dim=1), targets)


def label_accuracy(predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Accuracy in % of (N,) predicted classes against (N,) int targets; NaN when N == 0."""
    if targets.numel() == 0:
        return torch.tensor(math.nan, device=predicted.device)
    return (predicted == targets).float().mean() * 100.0


def mae(output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of (N,) or (N, 1) predictions; () float tensor."""
    return (output.reshape(-1).float() - targets.reshape(-1).float()).abs().mean()


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Area under the ROC curve of ``scores`` ranking ``positive`` samples above the others.

    Rank based (Mann-Whitney U), ties get their average rank, so it equals
    ``sklearn.metrics.roc_auc_score(positive, scores)``. NaN when either class is empty.

    Args:
        scores: (N,) float, larger = more likely positive.
        positive: (N,) bool.

    Returns:
        () float64 tensor on the scores' device.
    """
    scores = scores.reshape(-1).double()
    positive = positive.reshape(-1).bool()
    n_pos = positive.sum().double()
    n_neg = positive.numel() - n_pos
    _, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()  # 1-based rank of the last member of each tie group
    avg_rank = ends - (counts.double() - 1.0) / 2.0
    rank_sum = avg_rank[inverse][positive].sum()
    u = rank_sum - n_pos * (n_pos + 1.0) / 2.0
    value = u / (n_pos * n_neg)
    return torch.where((n_pos > 0) & (n_neg > 0), value, torch.full_like(value, math.nan))


def hard_clean_mask(hardness: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
    """(N,) bool: clean samples whose hardness is in the top quartile of the clean samples' hardness."""
    clean = ~corrupted
    if not bool(clean.any()):
        return clean
    threshold = torch.quantile(hardness[clean].double(), 0.75)
    return clean & (hardness.double() >= threshold)
