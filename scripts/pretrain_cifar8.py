#!/usr/bin/env python3
"""Pretrain the collection's own backbone: a CifarResNet on the 8 CIFAR-10 classes other than cat and dog.

Notebook 10 finetunes these weights on cat vs dog, a task the network has never seen: no cat
or dog image (of any split) is used here. The weights are bundled in ``data/`` so that nothing
is downloaded; ``make pretrained`` runs this script again (the default ``make test`` does not).

    python scripts/pretrain_cifar8.py                        # the recipe of data/README.md
    python scripts/pretrain_cifar8.py --epochs 1 --limit 2000 --out /tmp/try.pt   # a quick try

Recipe (airbench-style ingredients that pay off in few epochs): random crops (4 px padding) and
flips per batch, label smoothing 0.1, SGD with Nesterov momentum and weight decay, a one-cycle
learning rate, bfloat16 autocast and channels-last memory (08's speed levers), and flip test-time
augmentation for the reported test accuracy. It runs on a GPU when there is one (``--device``), and
on the CPU otherwise: the same code, about 2 min per epoch on a 2-core CPU. Reads the JPEGs straight from
``../shared/datasets/cifar10-jpg.tar.gz``; writes a ``helpers.checkpoint`` file (model weights in
float32, no optimizer state) whose ``config`` holds the recipe, the classes, the normalisation
statistics, the accuracies and the training time, and prints its SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import platform
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers.checkpoint import save_checkpoint
from helpers.data import channel_stats
from helpers.engine import fit
from helpers.loading import BatchAugment
from helpers.models import CifarResNet, count_parameters
from helpers.utils import check_device, set_seed

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
HELD_OUT = ("cat", "dog")                         # what notebook 10 finetunes on: never seen here
CLASSES = ("airplane", "automobile", "bird", "deer", "frog", "horse", "ship", "truck")


def read_split(archive: Path, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode every JPEG of ``split`` whose class is in CLASSES: ``(N, 3, 32, 32)`` uint8 and ``(N,)`` labels."""
    images, labels = [], []
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or parts[-3] != split or parts[-2] not in CLASSES:
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            with Image.open(io.BytesIO(data)) as image:
                images.append(np.asarray(image.convert("RGB")))
            labels.append(CLASSES.index(parts[-2]))
    if not images:
        raise SystemExit(f"{archive}: no {split} images of {', '.join(CLASSES)} found")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()          # (N, 3, 32, 32)
    y = torch.tensor(labels)
    if limit is not None:                       # a quick try: a random subset, all classes
        keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:limit]
        x, y = x[keep], y[keep]
    return x, y


class ChannelsLast:
    """Wraps a collate_fn so that batches come out in channels-last memory order (faster convolutions)."""

    def __init__(self, collate: BatchAugment) -> None:
        self.collate = collate

    def __call__(self, samples: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.collate(samples)
        return images.contiguous(memory_format=torch.channels_last), labels


@torch.no_grad()
def accuracy_with_flips(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    """Test-time augmentation: the mean of the logits of each image and of its mirror image."""
    model.eval()
    correct = total = 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model(images).float() + model(images.flip(3)).float()
        correct += int((logits.argmax(1) == labels).sum())
        total += len(labels)
    return correct / total


def describe(device: torch.device) -> str:
    """The device in words, for the log and the checkpoint's config."""
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    if device.type != "cpu":
        return f"{device.type} device"
    return f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "pretrained" / "cifar8_resnet.pt")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.2, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--widths", type=int, nargs="+", default=[48, 96, 192])
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 1, 1])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only this many training images (a quick try)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to train (default: cuda when there is a GPU, else cpu)")
    args = parser.parse_args()
    device = check_device(args.device, "--device")     # a clear error for --device cuda without a GPU

    start = time.perf_counter()
    train_x, train_y = read_split(args.archive, "train", args.limit)
    test_x, test_y = read_split(args.archive, "test")
    print(f"decoded {len(train_y)} training and {len(test_y)} test images of {len(CLASSES)} classes "
          f"(not {' or '.join(HELD_OUT)}) in {time.perf_counter() - start:.0f} s", flush=True)
    mean, std = channel_stats(train_x)

    set_seed(args.seed)
    pin = device.type == "cuda"                 # pinned batches copy to the GPU while it computes
    augment = ChannelsLast(BatchAugment(mean, std, crop_padding=4, flip=True))
    train_loader = DataLoader(TensorDataset(train_x, train_y), batch_size=args.batch_size, shuffle=True,
                              drop_last=True, pin_memory=pin, collate_fn=augment)
    test_loader = DataLoader(TensorDataset(test_x, test_y), batch_size=500, pin_memory=pin,
                             collate_fn=ChannelsLast(BatchAugment(mean, std)))
    model = CifarResNet(len(CLASSES), widths=args.widths, blocks=args.blocks).to(device)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, pct_start=0.25,
                                                    total_steps=args.epochs * len(train_loader))
    print(f"CifarResNet widths={args.widths} blocks={args.blocks}: {count_parameters(model):,} parameters; "
          f"{args.epochs} epochs of {len(train_loader)} batches on {describe(device)}", flush=True)

    train_start = time.perf_counter()
    history = fit(model, train_loader, test_loader, nn.CrossEntropyLoss(label_smoothing=args.label_smoothing),
                  optimizer, device, args.epochs, scheduler=scheduler, scheduler_step="batch",
                  amp_dtype=torch.bfloat16, progress=False, verbose=True)
    train_seconds = time.perf_counter() - train_start
    tta = accuracy_with_flips(model, test_loader, device)
    print(f"test accuracy on {len(test_y)} images: {history['val_acc'][-1]:.2%}, with flip TTA {tta:.2%}; "
          f"training took {train_seconds / 60:.1f} min", flush=True)

    model = model.to("cpu").to(memory_format=torch.contiguous_format)  # stored on the CPU, in the default layout
    config = {
        "architecture": "helpers.models.CifarResNet", "num_classes": len(CLASSES), "widths": list(args.widths),
        "blocks": list(args.blocks), "classes": list(CLASSES), "held_out": list(HELD_OUT),
        "mean": mean, "std": std, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "weight_decay": args.weight_decay, "label_smoothing": args.label_smoothing, "seed": args.seed,
        "train_images": len(train_y), "test_images": len(test_y),
        "test_acc": history["val_acc"][-1], "test_acc_flip_tta": tta, "train_seconds": round(train_seconds),
        "device": f"{describe(device)}, bfloat16 autocast", "torch": str(torch.__version__),
    }
    path = save_checkpoint(args.out, model, epoch=args.epochs, history=history, config=config)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB), sha256 {digest}")


if __name__ == "__main__":
    main()
