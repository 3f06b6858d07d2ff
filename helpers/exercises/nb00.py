"""Checks for notebook 00 (quickstart): accuracy, one training step, predictions."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from helpers.exercises.core import Check, Hint, call, expect, number
from helpers.exercises.probes import ModeProbe


def accuracy(answer: Any) -> str:
    """``accuracy(logits, targets) -> float``: the share of rows whose largest logit is the target."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, generator=g)                     # (N, C): 8 images, 5 classes
    targets = logits.argmax(1)
    targets[:3] = (targets[:3] + 1) % 5                          # 5 of 8 right
    got = call(answer, logits.clone(), targets.clone(),
               hints=[("must match the size", "`argmax` over the classes is `dim=1`; dim 0 runs over the batch.")])
    got = number(got, "the accuracy")
    if got == 5:
        raise Hint("you returned the number of correct predictions (5); divide by the number of targets")
    if got == 62.5:
        raise Hint("you returned a percentage (62.5); return the fraction, 0.625")
    expect(abs(got - 0.625) < 1e-6, f"on 8 rows with 5 right the accuracy is 0.625, and yours is {got}. Compare "
                                    "`logits.argmax(dim=1)` with the targets, then take the mean of the matches "
                                    "as floats")
    return "`(logits.argmax(1) == targets).float().mean().item()` is the quickstart's accuracy."


def train_step(answer: Any) -> str:
    """``train_step(model, images, labels, loss_fn, optimizer) -> float``: the five calls of one step."""
    torch.manual_seed(0)
    model = nn.Linear(6, 3)
    images, labels = torch.randn(4, 6), torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()

    def run(step: Any, steps: int, zero_grad: bool = True) -> tuple[nn.Linear, list[Any]]:
        net = copy.deepcopy(model)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
        results = []
        for _ in range(steps):
            results.append(step(net, images, labels, loss_fn, optimizer, zero_grad))
        return net, results

    def reference(net: nn.Module, x: torch.Tensor, y: torch.Tensor, fn: nn.Module,
                  optimizer: torch.optim.Optimizer, zero_grad: bool) -> float:
        if zero_grad:
            optimizer.zero_grad()
        loss = fn(net(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    right, right_losses = run(reference, 2)
    piled_up, _ = run(reference, 2, zero_grad=False)
    mine, losses = run(lambda *a: call(answer, *a[:5]), 2)
    first = number(losses[0], "the value train_step returns (the batch's loss)")
    expect(not torch.equal(mine.weight, model.weight), "the weights did not change: `optimizer.step()` applies the "
           "gradients that `loss.backward()` computed, so it comes after it, with no `zero_grad()` in between "
           "(that would wipe them)")
    if torch.allclose(mine.weight, piled_up.weight, atol=1e-6):
        raise Hint("the second step went too far: the gradients of the first step were still in `.grad` and were "
                   "added to. Call `optimizer.zero_grad()` before `loss.backward()`")
    expect(abs(first - right_losses[0]) < 1e-5, f"the first call returned {first:.4f}, and the batch's loss before the "
                                                f"step is {right_losses[0]:.4f}: return `loss.item()`")
    expect(torch.allclose(mine.weight, right.weight, atol=1e-6), "after two steps the weights differ from forward, "
           "loss, `zero_grad`, `backward`, `step` done in that order")
    return "forward, loss, `zero_grad()`, `backward()`, `step()`, and `loss.item()` to report."


def predict(answer: Any) -> str:
    """``predict(model, images) -> LongTensor (N,)``: class indices, in eval mode, without gradients."""
    model = ModeProbe(hidden=4, running_mean=2.0)                # left in train mode, as after training
    images = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model.eval()
        right = model(images).argmax(1)
        in_train_mode = copy.deepcopy(model).train()(images).argmax(1)   # a copy: train mode updates statistics
        model.train()
    model.calls.clear()
    got = call(answer, model, images)
    expect(isinstance(got, torch.Tensor), f"return a tensor of class indices, not {type(got).__name__}")
    if got.shape == (16, 3):
        raise Hint("you returned the logits, shape (16, 3); return the class of each row: `argmax(dim=1)`")
    expect(got.shape == (16,), f"expected one class index per image, shape (16,), and got {tuple(got.shape)}")
    expect(not any(grad for _, grad in model.calls), "the forward pass ran with gradients on: wrap it in "
                                                     "`torch.no_grad()` (or `torch.inference_mode()`); predictions "
                                                     "need no graph")
    if torch.equal(got.long(), in_train_mode) and not torch.equal(got.long(), right):
        raise Hint("these are train-mode predictions: batch norm used the batch's statistics. Call `model.eval()` "
                   "before predicting")
    expect(got.dtype == torch.int64, f"class indices are int64; yours are {got.dtype}")
    expect(torch.equal(got, right), "the predictions differ from `model.eval()` + `torch.no_grad()` + "
                                    "`model(images).argmax(1)`")
    return "`model.eval()`, `torch.no_grad()`, `argmax(dim=1)`."


CHECKS: dict[str, Check] = {"00.1": accuracy, "00.2": train_step, "00.3": predict}
