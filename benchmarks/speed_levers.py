#!/usr/bin/env python3
"""Training throughput under the speed levers of notebook 08, on whatever device is present.

The ladder: fp32; (on CUDA) fp32 with TF32 matmuls; bf16 autocast; + channels_last; + torch.compile.
The method follows ../shared/reference/gpu_speed_levers_h100.json, so that a run on an H100 is
comparable with that file: torchvision's model with 1,000 classes, SGD(lr=0.1, momentum=0.9),
cross-entropy on random inputs and labels (synthetic data: the model's ceiling, not an input
pipeline's), cudnn.benchmark on, warm-up steps (which include torch.compile's compilation) then
timed steps ended by a device synchronisation. The defaults are the reference's on CUDA (ResNet-18,
224 px, batch 256, 10 + 30 steps) and a small set-up on a CPU (64 px, batch 32, 2 + 5 steps),
where the full one would take minutes per rung.

Prints the table, then as its last line the best lever's speed-up over fp32 on this device.
Run: python benchmarks/speed_levers.py [--model resnet18] [--image-size N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch
import torchvision
from torch import nn

from helpers.utils import get_device


@dataclass
class Rung:
    name: str
    amp: bool
    channels_last: bool
    compile: bool
    tf32: bool = False


LADDER = [
    Rung("fp32", amp=False, channels_last=False, compile=False),
    Rung("fp32 + TF32", amp=False, channels_last=False, compile=False, tf32=True),   # CUDA only
    Rung("bf16 autocast", amp=True, channels_last=False, compile=False),
    Rung("bf16 + channels_last", amp=True, channels_last=True, compile=False),
    Rung("bf16 + channels_last + compile", amp=True, channels_last=True, compile=True),
]


def sync(device: torch.device) -> None:
    """Wait for the device: GPU kernels run asynchronously, so a timer alone would stop too early."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure(rung: Rung, model_name: str, image_size: int, batch_size: int, warmup: int, steps: int,
            device: torch.device) -> dict[str, float | str]:
    """Images/s of training steps under one rung of the ladder, and the warm-up's seconds."""
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = rung.tf32
    torch.backends.cudnn.allow_tf32 = rung.tf32
    torch.backends.cudnn.benchmark = True
    memory_format = torch.channels_last if rung.channels_last else torch.contiguous_format
    model = torchvision.models.get_model(model_name, num_classes=1000).to(device, memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step_model: nn.Module = torch.compile(model) if rung.compile else model   # type: ignore[assignment]
    x = torch.randn(batch_size, 3, image_size, image_size, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, 1000, (batch_size,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=rung.amp):
            loss = loss_fn(step_model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    start = time.perf_counter()
    for _ in range(warmup):
        step()
    sync(device)
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    elapsed = time.perf_counter() - start
    return {"rung": rung.name, "images_per_s": steps * batch_size / elapsed, "warmup_s": warmup_s}


def main() -> None:
    device = get_device()
    on_cuda = device.type == "cuda"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=224 if on_cuda else 64)
    parser.add_argument("--batch-size", type=int, default=256 if on_cuda else 32)
    parser.add_argument("--warmup", type=int, default=10 if on_cuda else 2)
    parser.add_argument("--steps", type=int, default=30 if on_cuda else 5)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rung")
    args = parser.parse_args()
    rungs = [r for r in LADDER if (on_cuda or not r.tf32) and not (args.no_compile and r.compile)]
    name = torch.cuda.get_device_name(device) if on_cuda else f"{device.type}, {torch.get_num_threads()} threads"
    print(f"{args.model}, {args.image_size} px, batch {args.batch_size}, {args.warmup} warm-up + {args.steps} "
          f"timed steps on {name}; torch {torch.__version__}")
    rows = []
    for rung in rungs:
        row = measure(rung, args.model, args.image_size, args.batch_size, args.warmup, args.steps, device)
        rows.append(row)
        print(f"{row['rung']:<32} {row['images_per_s']:>9.1f} images/s   warm-up {row['warmup_s']:.1f} s", flush=True)
    base = float(rows[0]["images_per_s"])
    best = max(rows, key=lambda r: float(r["images_per_s"]))
    print(f"best lever on {device.type}: {best['rung']} = {float(best['images_per_s']) / base:.2f}x fp32")


if __name__ == "__main__":
    main()
