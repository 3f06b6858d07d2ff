#!/usr/bin/env python3
"""Overhead of helpers.engine.fit against the same training written by hand.

Both train SmallCNN on the CIFAR-mini images (decoded once into tensors, augmented per batch by
BatchAugment) for one epoch and evaluate on the validation images, with AdamW and a per-batch
OneCycleLR, from the same seed. The hand-written loop is notebook 07's: metrics summed as
tensors and read once per epoch. The two take turns, so that a slow spell of a shared machine
hits both alike; the first round is an untimed warm-up. Each round also checks that both end
with identical weights and metrics (a benchmark of two different computations would measure
nothing). Prints the median seconds of each and the ratio fit / hand as the last line.
Run: python benchmarks/engine_overhead.py [--reps N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

from helpers.data import cifar10_mini_tensors
from helpers.engine import fit
from helpers.loading import BatchAugment
from helpers.models import SmallCNN
from helpers.utils import set_seed

Setup = tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, DataLoader, DataLoader]
Result = tuple[dict[str, torch.Tensor], dict[str, float]]


def setup(train_set: TensorDataset | Subset, val_set: TensorDataset | Subset, mean: list[float],
          std: list[float]) -> Setup:
    set_seed(0)
    train_loader = DataLoader(train_set, batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(0),
                              collate_fn=BatchAugment(mean, std, crop_padding=4, flip=True))
    val_loader = DataLoader(val_set, batch_size=500, collate_fn=BatchAugment(mean, std))
    model = SmallCNN()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=5e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=len(train_loader))
    return model, optimizer, scheduler, train_loader, val_loader


def by_hand(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
            train_loader: DataLoader, val_loader: DataLoader, loss_fn: nn.Module, device: torch.device) -> Result:
    model.train()
    total, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.int64), 0
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
    train_loss, train_acc = total.item() / seen, correct.item() / seen
    model.eval()
    total, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.int64), 0
    with torch.inference_mode():
        for x, y in val_loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total += loss_fn(logits, y) * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
    metrics = {"train_loss": train_loss, "train_acc": train_acc, "val_loss": total.item() / seen,
               "val_acc": correct.item() / seen}
    return model.state_dict(), metrics


def with_fit(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
             train_loader: DataLoader, val_loader: DataLoader, loss_fn: nn.Module, device: torch.device) -> Result:
    history = fit(model, train_loader, val_loader, loss_fn, optimizer, device, epochs=1, scheduler=scheduler,
                  scheduler_step="batch", progress=False, verbose=False)
    return model.state_dict(), {k: history[k][0] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}


def same_result(a: Result, b: Result) -> bool:
    """Bit-identical weights and metrics."""
    return a[1] == b[1] and a[0].keys() == b[0].keys() and all(torch.equal(a[0][k], b[0][k]) for k in a[0])


def compare(train_set: TensorDataset | Subset, val_set: TensorDataset | Subset, reps: int,
            device: torch.device) -> dict[str, list[float]]:
    """Alternate the two runs ``reps`` times after one untimed warm-up; check each round's results agree."""
    images = torch.stack([train_set[i][0] for i in range(len(train_set))]).float() / 255
    mean, std = images.mean(dim=(0, 2, 3)).tolist(), images.std(dim=(0, 2, 3)).tolist()
    loss_fn = nn.CrossEntropyLoss()
    runs: dict[str, Callable[..., Result]] = {"hand": by_hand, "fit": with_fit}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(reps + 1):
        results = {}
        for name, run in runs.items():
            parts = setup(train_set, val_set, mean, std)
            start = time.perf_counter()
            results[name] = run(*parts, loss_fn, device)
            if rep > 0:
                times[name].append(time.perf_counter() - start)
        if not same_result(results["hand"], results["fit"]):
            raise AssertionError("fit and the hand-written loop computed different weights or metrics")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()
    train_x, train_y, _ = cifar10_mini_tensors("train")
    val_x, val_y, _ = cifar10_mini_tensors("val")
    times = compare(TensorDataset(train_x, train_y), TensorDataset(val_x, val_y), args.reps, torch.device("cpu"))
    print(f"torch threads: {torch.get_num_threads()}, SmallCNN, one epoch of 5,000 images + evaluation of 1,000, "
          f"{args.reps} timed rounds, identical weights and metrics in every round")
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"fit / hand = {statistics.median(times['fit']) / statistics.median(times['hand']):.3f}x")


if __name__ == "__main__":
    main()
