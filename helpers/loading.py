"""What a ``DataLoader`` needs besides a dataset: collate functions, worker seeding, and a
dataset that decodes JPEGs straight into tensors.

All of it lives in a module so that worker processes started with ``spawn`` (the default on
macOS and Windows) can import it by name.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info
from torchcodec.decoders import decode_image

from helpers.data import DataError


def collate_pad(
    batch: Sequence[tuple[torch.Tensor, int]], fill: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch images of different sizes by padding each to the batch's largest height and width.

    The default collate function stacks samples and fails on images of different sizes; this
    one pads at the bottom and right, and says where the real pixels are.

    Args:
        batch: ``(image, label)`` pairs, images ``(C, H_i, W_i)`` with the same ``C`` and dtype.
        fill: Value of the padded pixels.

    Returns:
        ``(images, mask, labels)``: ``(B, C, H_max, W_max)`` images, a ``(B, H_max, W_max)``
        bool mask that is True on real pixels, and ``(B,)`` int64 labels.

    Example:
        >>> loader = DataLoader(dataset, batch_size=8, collate_fn=collate_pad)
        >>> images, mask, labels = next(iter(loader))
    """
    if len(batch) == 0:
        raise ValueError("collate_pad got an empty batch")
    images = [image for image, _ in batch]
    channels = {im.shape[0] for im in images}
    if any(im.dim() != 3 for im in images) or len(channels) != 1:
        shapes = [tuple(im.shape) for im in images]
        raise ValueError(f"collate_pad needs (C, H, W) images with one channel count, got shapes {shapes}")
    height = max(im.shape[1] for im in images)
    width = max(im.shape[2] for im in images)
    out = images[0].new_full((len(images), images[0].shape[0], height, width), fill)
    mask = torch.zeros(len(images), height, width, dtype=torch.bool)
    for i, im in enumerate(images):
        out[i, :, : im.shape[1], : im.shape[2]] = im
        mask[i, : im.shape[1], : im.shape[2]] = True
    labels = torch.tensor([int(label) for _, label in batch], dtype=torch.int64)
    return out, mask, labels


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` that seeds Python's ``random`` and NumPy in each worker.

    PyTorch seeds each worker's torch generator from the loader's ``generator`` (base seed +
    worker id), but not ``random`` or NumPy; transforms that use them would repeat the same
    "random" numbers in every worker, and differ between runs. This derives both from torch's
    per-worker seed.

    Example:
        >>> DataLoader(ds, num_workers=2, worker_init_fn=seed_worker,
        ...            generator=torch.Generator().manual_seed(0))
    """
    seed = torch.initial_seed() % 2**32  # already base_seed + worker_id
    random.seed(seed)
    np.random.seed(seed)


class TensorImageFolder(Dataset):
    """Image files decoded by TorchCodec straight into ``uint8`` tensors ``(3, H, W)``.

    Skips PIL: ``torchcodec.decoders.decode_image`` decodes JPEG, PNG, WebP and GIF files into
    RGB tensors, which the ``transforms.v2`` pipeline then works on directly. (It replaces
    ``torchvision.io.decode_image``, deprecated since torchvision 0.29.)

    Args:
        samples: ``(path, label)`` pairs, e.g. ``ImageFolder(root).samples``.
        transform: Applied to each ``(3, H, W)`` uint8 tensor.

    Raises:
        DataError: From ``__getitem__``, naming a file that cannot be read or decoded.
    """

    def __init__(
        self,
        samples: Sequence[tuple[str | Path, int]],
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        self.samples = [(Path(p), int(y)) for p, y in samples]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        try:
            image = decode_image(path, mode="RGB")  # (3, H, W) uint8; a GIF's first frame
        except (RuntimeError, OSError, ValueError) as e:
            raise DataError(f"cannot decode {path}: {e}") from e
        if self.transform is not None:
            image = self.transform(image)
        return image, label


class TextLinesStream(IterableDataset):
    """An iterable-style dataset: the lines of a text file, read lazily, in order.

    Every ``DataLoader`` worker runs ``__iter__`` on its own copy of the dataset. With
    ``split_across_workers=True`` worker ``k`` of ``n`` keeps only lines ``k, k + n, k + 2n, ...``,
    so that the workers together yield each line once; with False every worker yields every
    line, which is the duplication bug notebook 03 shows.

    Args:
        path: The text file.
        split_across_workers: Share the lines out between workers (the right thing).

    Example:
        >>> loader = DataLoader(TextLinesStream("labels.txt"), batch_size=32, num_workers=2)
    """

    def __init__(self, path: str | Path, split_across_workers: bool = True) -> None:
        self.path = Path(path)
        self.split_across_workers = split_across_workers
        if not self.path.is_file():
            raise DataError(f"text file not found: {self.path}")

    def __iter__(self) -> Iterator[str]:
        info = get_worker_info()  # None in the main process
        worker, workers = (info.id, info.num_workers) if info and self.split_across_workers else (0, 1)
        with self.path.open() as f:
            for number, line in enumerate(f):
                if number % workers == worker:
                    yield line.rstrip("\n")
