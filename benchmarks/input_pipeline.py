#!/usr/bin/env python3
"""Throughput of two input pipelines on the bundled ants/bees photos, 224 px, train augmentation.

naive: PIL decode + torchvision.transforms (v1) RandomResizedCrop, flip, ToTensor, Normalize,
       every image in the main process (num_workers=0).
tuned: TorchCodec decode into uint8 tensors, transforms.v2 cropping and flipping the uint8
       tensor before converting the (smaller) result to float, in 2 persistent worker processes.

Both produce the same thing: normalised float32 batches of (32, 3, 224, 224). The two pipelines
take turns, one epoch each, so that a slow spell of a shared machine hits both alike; a warm-up
epoch of each (worker start-up, file cache) is not timed. Prints the median images/s of each
and their ratio as the last line. Run: python benchmarks/input_pipeline.py [--reps N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader
from torchvision import transforms as v1
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from helpers.data import IMAGENET_MEAN as MEAN
from helpers.data import IMAGENET_STD as STD
from helpers.data import data_root
from helpers.datasets import TensorImageFolder
from helpers.files import load_rgb

BATCH_SIZE = 32


def naive_loader() -> DataLoader:
    tf = v1.Compose([v1.RandomResizedCrop(224), v1.RandomHorizontalFlip(), v1.ToTensor(), v1.Normalize(MEAN, STD)])
    train = ImageFolder(data_root("hymenoptera", "train"), transform=tf, loader=load_rgb)
    val = ImageFolder(data_root("hymenoptera", "val"), transform=tf, loader=load_rgb)
    return DataLoader(train + val, batch_size=BATCH_SIZE, shuffle=True, num_workers=0)


def tuned_loader(num_workers: int = 2) -> DataLoader:
    tf = v2.Compose([
        v2.RandomResizedCrop(224, antialias=True),  # on uint8: a quarter of the bytes of float32
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(MEAN, STD),
    ])
    samples = [s for split in ("train", "val") for s in ImageFolder(data_root("hymenoptera", split)).samples]
    return DataLoader(TensorImageFolder(samples, transform=tf), batch_size=BATCH_SIZE, shuffle=True,
                      num_workers=num_workers, persistent_workers=num_workers > 0,
                      # the default, written out: the batches each worker prepares ahead
                      prefetch_factor=2 if num_workers > 0 else None,
                      generator=torch.Generator().manual_seed(0))


def epoch_rate(loader: DataLoader) -> float:
    """Images per second over one pass of ``loader``."""
    seen, start = 0, time.perf_counter()
    for images, _ in loader:
        assert images.shape[1:] == (3, 224, 224) and images.dtype == torch.float32
        seen += len(images)
    return seen / (time.perf_counter() - start)


def compare(reps: int) -> dict[str, list[float]]:
    """Alternate one epoch of each pipeline, ``reps`` times after one untimed warm-up each."""
    loaders = {"naive": naive_loader(), "tuned": tuned_loader()}
    rates: dict[str, list[float]] = {name: [] for name in loaders}
    for rep in range(reps + 1):
        for name, loader in loaders.items():
            rate = epoch_rate(loader)
            if rep > 0:
                rates[name].append(rate)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=9, help="timed epochs per pipeline (default 9)")
    args = parser.parse_args()
    torch.manual_seed(0)
    rates = compare(args.reps)
    print(f"torch threads: {torch.get_num_threads()}, batch size {BATCH_SIZE}, "
          f"{args.reps} timed epochs of 397 images per pipeline")
    for name, values in rates.items():
        epochs = ", ".join(f"{r:.0f}" for r in values)
        print(f"{name}: median {statistics.median(values):.0f} images/s  (epochs: {epochs})")
    print(f"tuned / naive = {statistics.median(rates['tuned']) / statistics.median(rates['naive']):.2f}x")


if __name__ == "__main__":
    main()
