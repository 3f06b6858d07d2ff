"""What a ``DataLoader`` needs besides a dataset: collate functions that build (and augment)
whole batches, and worker seeding.

All of it lives in a module so that worker processes started with ``spawn`` (the default on
macOS and Windows) can import it by name.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import get_worker_info

from helpers.utils import PerWorkerGenerator


def collate_pad(
    batch: Sequence[tuple[torch.Tensor, int]], fill: float = 0.0, with_mask: bool = True
) -> tuple[torch.Tensor, ...]:
    """Batch images of different sizes by padding each to the batch's largest height and width.

    The default collate function stacks samples and fails on images of different sizes; this
    one pads at the bottom and right, and says where the real pixels are.

    Args:
        batch: ``(image, label)`` pairs, images ``(C, H_i, W_i)`` with the same ``C`` and dtype.
        fill: Value of the padded pixels.
        with_mask: Return the mask too. ``helpers.engine`` takes ``(inputs, targets)`` batches:
            pass ``collate_fn=functools.partial(collate_pad, with_mask=False)`` to train with it
            (a ``partial`` of a module-level function can be sent to worker processes; a lambda cannot).

    Returns:
        ``(images, mask, labels)``: ``(B, C, H_max, W_max)`` images, a ``(B, H_max, W_max)``
        bool mask that is True on real pixels, and ``(B,)`` int64 labels; without the mask when
        ``with_mask=False``.

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
    return (out, mask, labels) if with_mask else (out, labels)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` that reseeds the random generators a worker's dataset carries.

    What PyTorch already does: each worker seeds Python's ``random`` and ``torch`` from
    ``base_seed + worker_id``, and NumPy's global generator (``np.random.*``) from a seed derived
    from the same two numbers, where ``base_seed`` is drawn from the loader's ``generator`` every
    epoch (``torch/utils/data/_utils/worker.py``).
    So transforms that use those global generators already differ between workers and epochs,
    and repeat when the loader's generator is seeded.

    What it cannot reach: generator *objects* you created (``np.random.default_rng(0)``,
    ``torch.Generator()``, ``random.Random(0)``) and stored on the dataset or its transform.
    Every worker receives a copy of the same state, so every worker draws the same numbers.
    This function reseeds each such generator reachable from the worker's dataset (through its
    attributes, lists and dicts, a few levels down: ``Subset(ds).dataset.transform``, the
    transforms of a ``Compose``) from the worker's own seed.

    Args:
        worker_id: Passed by the ``DataLoader``; the worker's seed already includes it.

    Example:
        >>> DataLoader(ds, num_workers=2, worker_init_fn=seed_worker,
        ...            generator=torch.Generator().manual_seed(0))
    """
    info = get_worker_info()
    if info is None:  # called by hand in the main process: nothing to do
        return
    _reseed(info.dataset, info.seed, depth=4, seen=set(), count=[0])


def _reseed(obj: Any, seed: int, depth: int, seen: set[int], count: list[int]) -> None:
    """Reseed every generator object reachable from ``obj`` through attributes, lists and dicts.

    Reaches ``Subset(ds).dataset.transform.generator`` and ``Compose([...]).transforms[i].rng``;
    stops ``depth`` levels down, and visits each object once.
    """
    if depth < 0 or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        slots: list[tuple[Any, Any]] = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        slots = list(enumerate(obj))
    elif hasattr(obj, "__dict__") and not isinstance(obj, (type, torch.Tensor, np.ndarray)):
        slots = list(vars(obj).items())
        obj = vars(obj)
    else:
        return
    for key, value in slots:
        stream = (seed + 1_000_003 * count[0]) % 2**63  # a different stream per generator found
        if isinstance(value, np.random.Generator):
            if isinstance(obj, tuple):
                continue                                 # cannot replace an item of a tuple
            obj[key] = np.random.Generator(type(value.bit_generator)(stream))
        elif isinstance(value, torch.Generator):
            value.manual_seed(stream)
        elif isinstance(value, random.Random):
            value.seed(stream)
        else:
            _reseed(value, seed, depth - 1, seen, count)
            continue
        count[0] += 1


class BatchAugment:
    """A ``collate_fn`` that stacks ``uint8`` images and augments the whole batch at once.

    For small images already decoded into memory (CIFAR), augmenting a batch in a few tensor
    operations is much cheaper than running a transform pipeline per image. Per image, with
    independent random draws: a random crop of the original size from the image padded by
    ``crop_padding`` pixels (reflect), and a horizontal flip with probability 0.5. Then conversion
    to float in ``[0, 1]`` and normalisation.

    Args:
        mean: Per-channel means for ``Normalize``.
        std: Per-channel standard deviations.
        crop_padding: Padding for the random crop; 0 disables cropping.
        flip: Random horizontal flips.
        generator: Optional seeded ``torch.Generator`` for repeatable draws (else the global
            one). In ``DataLoader`` workers each worker derives its own stream from it and the
            worker's seed, so workers and epochs do not repeat each other's crops and flips.
        channels_last: Return the batch in ``torch.channels_last`` memory format (NHWC), which
            CPU and GPU convolution kernels often run faster on; pair it with
            ``model.to(memory_format=torch.channels_last)``.

    Returns (when called on a list of ``(uint8 (C, H, W), label)`` samples):
        ``(float32 (B, C, H, W), int64 (B,))``.

    Example:
        >>> train_loader = DataLoader(TensorDataset(images_uint8, labels), batch_size=128, shuffle=True,
        ...                           collate_fn=BatchAugment(MEAN, STD, crop_padding=4, flip=True))
    """

    def __init__(
        self,
        mean: tuple[float, ...] | list[float],
        std: tuple[float, ...] | list[float],
        crop_padding: int = 0,
        flip: bool = False,
        generator: torch.Generator | None = None,
        channels_last: bool = False,
    ) -> None:
        if crop_padding < 0:
            raise ValueError(f"crop_padding must be >= 0, got {crop_padding}")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        if self.mean.shape != self.std.shape:
            raise ValueError("mean and std need the same length (one value per channel), "
                             f"got {len(mean)} and {len(std)}")
        self.crop_padding = crop_padding
        self.flip = flip
        self.generator = PerWorkerGenerator(generator)
        self.channels_last = channels_last

    def __call__(self, samples: list[tuple[torch.Tensor, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.stack([image for image, _ in samples])                 # (B, C, H, W) uint8
        labels = torch.as_tensor([int(label) for _, label in samples], dtype=torch.int64)
        if images.dtype != torch.uint8:
            raise TypeError(f"BatchAugment expects uint8 images, got {images.dtype}")
        b, c, h, w = images.shape
        if c != self.mean.shape[1]:
            raise ValueError(f"BatchAugment got {c}-channel images but mean and std for {self.mean.shape[1]} channels; "
                             f"pass {c} values each")
        generator = self.generator.get()
        x = images.float().div_(255)
        if self.crop_padding:
            p = self.crop_padding
            padded = torch.nn.functional.pad(x, (p, p, p, p), mode="reflect")  # (B, C, H + 2p, W + 2p)
            offsets = torch.randint(0, 2 * p + 1, (b, 2), generator=generator)
            x = torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])
        if self.flip:
            flips = torch.rand(b, generator=generator) < 0.5
            x = torch.where(flips.view(b, 1, 1, 1), x.flip(-1), x)
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)  # same values, NHWC strides
        return x, labels

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(crop_padding={self.crop_padding}, flip={self.flip}, "
                f"channels_last={self.channels_last})")
