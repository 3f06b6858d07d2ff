"""Checks for notebook 08 (devices and memory): moving a nested batch, Adam's memory, gradient accumulation."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from helpers.exercises.core import Check, Hint, call, expect, number


def to_device(answer: Any) -> str:
    """``to_device(batch, device)``: every tensor in nested dicts, lists and tuples moved; the rest unchanged."""
    device = torch.device("meta")                                # a device every machine has: shapes, no data
    batch: dict[str, Any] = {"image": torch.zeros(2, 3), "label": torch.tensor([1, 0]), "name": ["a.jpg", "b.jpg"],
             "boxes": [torch.ones(1, 4), (torch.ones(2), 7)]}
    got = call(answer, batch, device, hints=[("maximum recursion depth", "a string is a sequence too (each of its "
                                              "characters is a string): recurse into lists and tuples only.")])
    expect(isinstance(got, dict) and set(got) == set(batch), "return the same structure: a dict with the same keys")
    if got["image"].device.type == "cpu":
        raise Hint("the tensors are still on the CPU. `tensor.to(device)` returns a new tensor and leaves the old one "
                   "where it was: use what it returns (only a module's `.to()` converts in place)")
    expect(got["image"].device == device and got["label"].device == device, "batch['image'] and batch['label'] should "
                                                                             "be on the device")
    expect(got["name"] == ["a.jpg", "b.jpg"], f"batch['name'] is a list of strings and should stay as it is; it became "
                                              f"{got['name']!r}")
    boxes = got["boxes"]
    expect(isinstance(boxes, list) and len(boxes) == 2 and isinstance(boxes[1], tuple),
           "batch['boxes'] should stay a list holding a tensor and a tuple: rebuild each container with its own type")
    expect(boxes[0].device == device and boxes[1][0].device == device, "the tensors inside batch['boxes'] stayed "
           "behind: handle lists and tuples by calling your function on each item (recursion)")
    expect(boxes[1][1] == 7, "the number 7 inside the tuple should stay 7")
    expect(batch["image"].device.type == "cpu", "the caller's batch changed: build a new structure")
    return "tensors moved (using what `.to()` returns), containers rebuilt, everything else kept."


def adam_training_bytes(answer: Any) -> str:
    """``adam_training_bytes(model) -> int``: float32 weights + gradients + Adam's two moments, in bytes."""
    model = nn.Sequential(nn.Linear(100, 50), nn.BatchNorm1d(50), nn.Linear(50, 10))
    n = sum(p.numel() for p in model.parameters())               # 5,660 parameters; the buffers are not trained
    got = number(call(answer, model), "the byte count")
    extra = got - 16 * n
    if 0 < extra <= 8 * len(list(model.parameters())):
        raise Hint(f"{int(got):,} bytes is 16 per parameter plus {extra:g}: those are Adam's `step` counters, one "
                   f"number per parameter tensor. Leave them out: 16 bytes per parameter, {16 * n:,}")
    for wrong, why in [(4 * n, "only the weights"), (8 * n, "weights and gradients, without Adam's state"),
                       (12 * n, "weights, gradients and one of Adam's two moments (it keeps `exp_avg` and "
                                "`exp_avg_sq`)")]:
        if got == wrong:
            raise Hint(f"{got:,.0f} bytes counts {why}. Training with Adam holds four float32 numbers per "
                       "parameter: weight, gradient, first and second moment")
    expect(got == 16 * n, f"the model has {n:,} parameters; with Adam that is 16 bytes each = {16 * n:,}, and you have "
                          f"{got:,g}" + (" (count `model.parameters()`, not the buffers)" if got > 16 * n else ""))
    return "16 bytes per parameter in float32 with Adam, before a single activation."


def accumulate_step(answer: Any) -> str:
    """``accumulate_step(model, micro_batches, loss_fn, optimizer)``: one step from k micro-batches = one big batch."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(12, 6), torch.randint(0, 3, (12,))
    micro = [(x[i:i + 4], y[i:i + 4]) for i in range(0, 12, 4)]   # k = 3 micro-batches of 4: k differs from 4
    loss_fn = nn.CrossEntropyLoss()

    def stepped(k_scale: float, only_last: bool = False, stale: bool = False) -> nn.Module:
        net = copy.deepcopy(model)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
        for p in net.parameters():
            p.grad = torch.full_like(p, 10.0) if stale else None
        for bx, by in (micro[-1:] if only_last else [(x, y)]):
            (loss_fn(net(bx), by) * k_scale).backward()
        optimizer.step()
        return net

    mine = copy.deepcopy(model)
    for p in mine.parameters():
        p.grad = torch.full_like(p, 10.0)                        # left over from an earlier step
    sizes: list[int] = []
    mine.register_forward_pre_hook(lambda _m, args: sizes.append(len(args[0])))
    backwards: list[bool] = []
    next(mine.parameters()).register_post_accumulate_grad_hook(lambda _p: backwards.append(True))
    call(answer, mine, list(micro), loss_fn, torch.optim.SGD(mine.parameters(), lr=0.5), returns=False)
    expect(sizes == [4, 4, 4], f"the model saw batches of {sizes}: run each micro-batch of 4 through it on its "
                                  "own (that is what saves memory), and add up their gradients")
    expect(len(backwards) == 3, f"`backward()` ran {len(backwards)} time(s) for 3 micro-batches: call it on each "
                                "micro-batch's loss as soon as it is computed, which frees that micro-batch's graph "
                                "(one backward on the summed losses keeps every graph in memory at once)")

    def same(net: nn.Module) -> bool:
        return all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mine.parameters(), net.parameters(), strict=True))

    expect(not same(model), "the weights did not change: one `optimizer.step()` after the last micro-batch")
    if same(stepped(3.0)):
        raise Hint("the step is 3 times too large: each micro-batch's loss is a mean over its samples, and the 3 "
                   "micro-batches' gradients add up. Divide each loss by k (`loss / len(micro_batches)`) before "
                   "`backward()`")
    if same(stepped(3.0 / 4.0)):
        raise Hint("you divided each loss by the micro-batch's size (4); divide by the number of micro-batches, "
                   "k = 3: each loss is already a mean over its samples")
    if same(stepped(1.0 / 3.0, only_last=True)) or same(stepped(1.0, only_last=True)):
        raise Hint("only the last micro-batch counted: `optimizer.zero_grad()` belongs before the loop, not inside it")
    if same(stepped(1.0, stale=True)):
        raise Hint("the gradients left from an earlier step were added in: call `optimizer.zero_grad()` once, "
                   "before the first micro-batch")
    expect(same(stepped(1.0)), "the weights differ from one step on all 12 samples at once: zero_grad once, backward "
                               "on each `loss / k`, then one step")
    return "zero_grad, backward on loss / k for each micro-batch, one step: the big batch's update."


CHECKS: dict[str, Check] = {"08.1": to_device, "08.2": adam_training_bytes, "08.3": accumulate_step}
