#!/usr/bin/env python3
"""Overhead of helpers.engine.fit against the same training written by hand.

Both train SmallCNN on the CIFAR-mini images (decoded once into tensors, augmented per batch by
BatchAugment) for one epoch and evaluate on the validation images, with AdamW and a per-batch
OneCycleLR, from the same seed. They take turns, so that a slow spell of a shared machine hits
both alike; the first round is an untimed warm-up. Prints the median seconds of each and the
ratio fit / hand as the last line. Run: python benchmarks/engine_overhead.py [--reps N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from helpers.data import data_root
from helpers.engine import fit
from helpers.models import SmallCNN
from helpers.transforms import BatchAugment
from helpers.utils import set_seed


def decode(split: str) -> TensorDataset:
    ds = ImageFolder(data_root("cifar10-mini", split), transform=v2.PILToTensor())
    return TensorDataset(torch.stack([img for img, _ in ds]), torch.tensor(ds.targets))


def setup(train_set: TensorDataset, val_set: TensorDataset, mean: list[float], std: list[float]):
    set_seed(0)
    train_loader = DataLoader(train_set, batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(0),
                              collate_fn=BatchAugment(mean, std, crop_padding=4, flip=True))
    val_loader = DataLoader(val_set, batch_size=500, collate_fn=BatchAugment(mean, std))
    model = SmallCNN()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=5e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=len(train_loader))
    return model, optimizer, scheduler, train_loader, val_loader


def by_hand(model, optimizer, scheduler, train_loader, val_loader, loss_fn, device) -> None:
    model.train()
    total, correct, seen = 0.0, 0, 0
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    model.eval()
    with torch.inference_mode():
        for x, y in val_loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()


def with_fit(model, optimizer, scheduler, train_loader, val_loader, loss_fn, device) -> None:
    fit(model, train_loader, val_loader, loss_fn, optimizer, device, epochs=1, scheduler=scheduler,
        scheduler_step="batch", progress=False, verbose=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()
    device = torch.device("cpu")
    train_set, val_set = decode("train"), decode("val")
    images = train_set.tensors[0].float() / 255
    mean, std = images.mean(dim=(0, 2, 3)).tolist(), images.std(dim=(0, 2, 3)).tolist()
    loss_fn = nn.CrossEntropyLoss()
    times: dict[str, list[float]] = {"hand": [], "fit": []}
    for rep in range(args.reps + 1):
        for name, run in (("hand", by_hand), ("fit", with_fit)):
            parts = setup(train_set, val_set, mean, std)
            start = time.perf_counter()
            run(*parts, loss_fn, device)
            if rep > 0:
                times[name].append(time.perf_counter() - start)
    print(f"torch threads: {torch.get_num_threads()}, SmallCNN, one epoch of 5,000 images + evaluation of 1,000, "
          f"{args.reps} timed rounds")
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"fit / hand = {statistics.median(times['fit']) / statistics.median(times['hand']):.3f}x")


if __name__ == "__main__":
    main()
