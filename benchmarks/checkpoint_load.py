#!/usr/bin/env python3
"""How long a ResNet-50-sized state_dict (about 100 MB) takes to load, three ways.

- ``plain``: ``torch.load(path, weights_only=True)`` reads every byte into fresh memory.
- ``mmap``: ``torch.load(path, weights_only=True, mmap=True)`` maps the file; tensors read their
  bytes only when first touched. ``mmap+touch`` also reads every page of every tensor once, which
  is what the first use of the weights costs; ``plain+touch`` does the same reads after a plain load, so the
  two ``+touch`` rows compare like with like.
- ``safetensors``: ``safetensors.torch.load_file`` (and ``+touch``).

The file is written once and then read from the operating system's page cache (warm), as it is
on the second load of a training script; a cold read from disk adds the disk's time to every row.
The methods take turns, one untimed warm-up round first; each method's result is checked to equal
the saved state_dict. Prints the median milliseconds of each, and ``plain / mmap`` as the last line.
Run: python benchmarks/checkpoint_load.py [--reps N] [--model resnet50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from safetensors.torch import load_file, save_file

StateDict = dict[str, torch.Tensor]
PAGE = 4096


def make_state_dict(model: str) -> StateDict:
    """A torchvision model's freshly initialised state_dict (no download: ``weights=None``)."""
    torch.manual_seed(0)
    return torchvision.models.get_model(model, weights=None).state_dict()


def touch(state: StateDict) -> StateDict:
    """Read one byte of every 4 KiB page of every tensor: what it costs to bring mapped weights into memory.

    One byte per page, not a sum of every value: the cost measured is the first access (page
    faults), not arithmetic, which on a busy machine would dominate with thread contention.
    """
    total = 0
    for tensor in state.values():
        raw = tensor.reshape(-1).view(torch.uint8)                 # the tensor's bytes
        total += int(raw[::PAGE].sum()) + int(raw[-1])            # every page, and the last one
    return state


def methods(pt: Path, st: Path) -> dict[str, Callable[[], StateDict]]:
    return {
        "plain": lambda: torch.load(pt, weights_only=True),
        "mmap": lambda: torch.load(pt, weights_only=True, mmap=True),
        "plain+touch": lambda: touch(torch.load(pt, weights_only=True)),
        "mmap+touch": lambda: touch(torch.load(pt, weights_only=True, mmap=True)),
        "safetensors": lambda: load_file(st),
        "safetensors+touch": lambda: touch(load_file(st)),
    }


def same(a: StateDict, b: StateDict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def compare(state: StateDict, folder: Path, reps: int) -> dict[str, list[float]]:
    """Write ``state`` both ways into ``folder``, then time each method ``reps`` times (after a warm-up)."""
    pt, st = folder / "weights.pt", folder / "weights.safetensors"
    torch.save(state, pt)
    save_file({k: v.contiguous() for k, v in state.items()}, st)
    loads = methods(pt, st)
    for name, load in loads.items():
        assert same(load(), state), f"{name} loaded something different from what was saved"
    times: dict[str, list[float]] = {name: [] for name in loads}
    for rep in range(reps + 1):
        for name, load in loads.items():
            start = time.perf_counter()
            loaded = load()
            elapsed = time.perf_counter() - start
            del loaded
            if rep > 0:
                times[name].append(elapsed * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=15, help="timed loads per method (default 15)")
    parser.add_argument("--model", default="resnet50", help="a torchvision model name (default resnet50)")
    args = parser.parse_args()
    state = make_state_dict(args.model)
    size = sum(t.numel() * t.element_size() for t in state.values()) / 1e6
    with tempfile.TemporaryDirectory() as folder:
        times = compare(state, Path(folder), args.reps)
    print(f"{args.model}: {len(state)} tensors, {size:.0f} MB; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, warm page cache, {args.reps} timed loads each")
    for name, values in times.items():
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name}: median {statistics.median(values):.1f} ms  (runs: {runs})")
    print(f"plain / mmap = {statistics.median(times['plain']) / statistics.median(times['mmap']):.1f}x")


if __name__ == "__main__":
    main()
