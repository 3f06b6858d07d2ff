#!/usr/bin/env python3
"""Data-parallel training with DistributedDataParallel, one process per device (notebook 08).

Launch with torchrun, which starts the processes and tells each its rank:

    python -m torch.distributed.run --standalone --nproc_per_node=2 scripts/ddp_train.py

Each process trains a replica of the same model on its own share of every global batch
(DistributedSampler); after each backward pass DDP averages the gradients of all replicas
(all-reduce), so every replica takes the same step and the replicas stay identical. With the
default arguments, the weights after training equal those of one process training on the same
data with the same global batch (notebook 08 asserts it): the model has no BatchNorm and no
dropout, whose per-process statistics and random masks would break that equality.

On CPUs the processes talk through the gloo backend; on CUDA GPUs through NCCL, one GPU each.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def tiny_cnn(num_classes: int = 10) -> nn.Sequential:
    """A small CNN without BatchNorm or dropout: its result does not depend on how a batch is split."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),        # (B, 16, 16, 16)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),       # (B, 32, 8, 8)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes),  # (B, num_classes)
    )


def load_data(path: Path, limit: int, dtype: torch.dtype) -> TensorDataset:
    """CIFAR-mini as normalised tensors, from the file notebook 08 saves (decoded once, not per process).

    The images are sorted by class, so ``limit`` images are taken evenly across them.
    """
    data = torch.load(path, weights_only=True, map_location="cpu")   # {"images": uint8 (N,3,32,32), "labels": (N,)}
    keep = torch.linspace(0, len(data["labels"]) - 1, min(limit, len(data["labels"]))).long()
    images = data["images"][keep].to(dtype) / 255
    images = (images - images.mean(dim=(0, 2, 3), keepdim=True)) / images.std(dim=(0, 2, 3), keepdim=True)
    return TensorDataset(images, data["labels"][keep])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("outputs/cifar10_mini_train.pt"))
    parser.add_argument("--limit", type=int, default=2000, help="train on the first N images (default 2000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--global-batch", type=int, default=64, help="samples per step over all processes")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                        help="float64 (default) makes the 1- and 2-process runs agree to ~1e-15; float32 to ~1e-4")
    parser.add_argument("--no-set-epoch", action="store_true", help="skip sampler.set_epoch (the common bug)")
    parser.add_argument("--out", type=Path, default=Path("outputs/ddp_weights.pt"))
    args = parser.parse_args()

    # 1. Join the group. torchrun set RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT.
    if "LOCAL_WORLD_SIZE" not in os.environ:
        raise SystemExit("start this script with torchrun: python -m torch.distributed.run --nproc_per_node=2 "
                         "scripts/ddp_train.py")
    # One GPU per process: with fewer GPUs on this machine than processes (or none), use the CPUs.
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= int(os.environ["LOCAL_WORLD_SIZE"])
    if use_cuda:
        local_rank = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(local_rank)                      # before init: NCCL binds this process to its GPU
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if rank == 0:
        print(f"{world_size} processes, backend {dist.get_backend()}, rank 0 on {device}", flush=True)
    if args.global_batch % world_size:
        raise SystemExit(f"--global-batch {args.global_batch} must be divisible by the {world_size} processes")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))   # share the CPU's cores

    # 2. The data: each process gets every world_size-th sample of a shuffled order.
    dtype = getattr(torch, args.dtype)
    dataset = load_data(args.data, args.limit, dtype)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=0, drop_last=True)
    loader = DataLoader(dataset, batch_size=args.global_batch // world_size, sampler=sampler, drop_last=True)

    # 3. The same initial weights everywhere (same seed; DDP also broadcasts rank 0's weights).
    torch.manual_seed(0)
    model = tiny_cnn().to(device, dtype)
    ddp_model = DDP(model, device_ids=[device.index] if use_cuda else None)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        if not args.no_set_epoch:
            sampler.set_epoch(epoch)                           # a new shuffle each epoch, the same on every rank
        first = next(iter(sampler))
        ddp_model.train()
        start = time.perf_counter()
        sums = torch.zeros(3, dtype=torch.float64, device=device)   # loss sum, correct, samples
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = ddp_model(images)
            loss = loss_fn(logits, labels)
            optimizer.zero_grad()
            loss.backward()                                    # DDP all-reduces (averages) the gradients here
            optimizer.step()
            sums += torch.stack([loss.detach().double() * len(labels), (logits.argmax(1) == labels).sum().double(),
                                 torch.tensor(float(len(labels)), dtype=torch.float64, device=device)])
        dist.all_reduce(sums, op=dist.ReduceOp.SUM)            # sums over all processes, then divide
        if rank == 0:                                          # print once, not once per process
            loss_sum, correct, seen = sums.tolist()
            print(f"epoch {epoch + 1}: loss {loss_sum / seen:.4f} acc {correct / seen:.1%} over {int(seen)} samples "
                  f"({world_size} processes, {time.perf_counter() - start:.1f} s) | first index of rank 0: {first}",
                  flush=True)

    dist.barrier()                                             # everyone finished before rank 0 writes
    if rank == 0:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        partial = args.out.with_name(args.out.name + ".partial")
        state = {k: v.cpu() for k, v in model.state_dict().items()}   # the plain model's keys, on the CPU
        torch.save(state, partial)
        os.replace(partial, args.out)                          # atomic: a crash never leaves half a file
        print(f"rank 0 saved {args.out}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
