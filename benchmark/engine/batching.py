"""Device batches from in-memory tensors (or, for large image sets, a lazily loading Dataset).

In-memory inputs live on the training device once; a batch is ``x[idx]`` for an index tensor on the
device, so there is no DataLoader, no worker process and no host copy per batch. uint8 images are scaled to
[0, 1], augmented (crop-flip, as torchvision's RandomCrop(padding) + RandomHorizontalFlip: zero padding
before normalisation) and normalised on the device. Integer token ids pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["Inputs", "crop_flip", "index_batches"]


def index_batches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> list[torch.Tensor]:
    """A shuffled epoch as index tensors on ``device``; the order comes from ``generator`` (CPU).

    A trailing batch of one sample is merged into the previous one (BatchNorm cannot train on one sample).
    """
    perm = torch.randperm(n, generator=generator).to(device)
    batches = list(torch.split(perm, batch_size))
    if len(batches) > 1 and batches[-1].numel() == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def crop_flip(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Random crop after zero padding by ``padding`` and random horizontal flip of (B, C, H, W) images.

    Draws from the global torch RNG of ``x``'s device (the engine seeds it from the order stream).
    """
    b, _, h, w = x.shape
    if padding > 0:
        padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
        off_y = torch.randint(0, 2 * padding + 1, (b, 1), device=x.device)
        off_x = torch.randint(0, 2 * padding + 1, (b, 1), device=x.device)
        rows = off_y + torch.arange(h, device=x.device)  # (B, H)
        cols = off_x + torch.arange(w, device=x.device)  # (B, W)
        batch = torch.arange(b, device=x.device)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flip = torch.rand(b, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


class Inputs:
    """The inputs of one split, ready to be batched on ``device``.

    Args:
        x: (N, ...) tensor (moved to the device once) or a Dataset returning one input tensor per index.
        device: training device.
        mean / std: per-channel normalisation applied on the device, or None.
        augment: "none" or "crop-flip" (only used by :meth:`train_batches`).
        crop_padding: padding of the random crop.
    """

    def __init__(
        self,
        x: Any,
        device: torch.device,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        augment: str = "none",
        crop_padding: int = 4,
    ) -> None:
        self.device = device
        self.lazy = not isinstance(x, torch.Tensor)
        self.augment = augment
        self.crop_padding = crop_padding
        self._mean: torch.Tensor | None = None
        self._std: torch.Tensor | None = None
        if mean is not None and std is not None:
            self._mean = torch.tensor(mean, dtype=torch.float32, device=device)
            self._std = torch.tensor(std, dtype=torch.float32, device=device)
        if self.lazy:
            self.x: Any = x
            self.n = len(x)
            self._ready = False
        else:
            self.x = x.to(device)
            self.n = int(x.shape[0])
            # nothing random left (no crop-flip on images): pre-process the whole split once
            self._ready = augment == "none" or self.x.dim() != 4
            if self._ready:
                self.x = self._finish(self.x)

    def _finish(self, x: torch.Tensor, augment: bool = False) -> torch.Tensor:
        """Scale uint8 images to [0, 1], augment, normalise (per channel, dim 1)."""
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        if not x.is_floating_point():
            return x  # token ids
        if augment and self.augment == "crop-flip" and x.dim() == 4:
            x = crop_flip(x, self.crop_padding)
        if self._mean is not None and self._std is not None:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = (x - self._mean.view(shape)) / self._std.view(shape)
        return x

    def _batch(self, idx: torch.Tensor, augment: bool) -> torch.Tensor:
        if self._ready:
            ready: torch.Tensor = self.x[idx]
            return ready
        return self._finish(self.x[idx], augment)

    def train_batches(self, batches: list[torch.Tensor]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(idx, x) per training batch, augmented."""
        yield from self._iterate(batches, augment=True)

    def eval_batches(
        self, batch_size: int, rows: torch.Tensor | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(idx, x) over the split (or over ``rows``) in index order, not augmented."""
        order = torch.arange(self.n, device=self.device) if rows is None else rows
        if rows is None and self._ready:  # the whole prepared split: slices are views, no gather copy
            for start, idx in zip(range(0, self.n, batch_size), torch.split(order, batch_size), strict=True):
                yield idx, self.x[start : start + batch_size]
            return
        yield from self._iterate(list(torch.split(order, batch_size)), augment=False)

    def _iterate(
        self, batches: list[torch.Tensor], augment: bool
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.lazy:
            for idx in batches:
                yield idx, self._batch(idx, augment)
            return
        loader = DataLoader(
            _Indexed(self.x),
            batch_sampler=[b.tolist() for b in batches],
            num_workers=0,
            pin_memory=self.device.type == "cuda",
        )
        for idx, x in zip(batches, loader, strict=True):
            yield idx, self._finish(x.to(self.device, non_blocking=True), augment)


class _Indexed(Dataset):  # type: ignore[type-arg]
    """A Dataset view returning only the input tensor of each sample."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> torch.Tensor:
        item = self.base[i]
        image: torch.Tensor = item[0] if isinstance(item, tuple | list) else item
        return image
