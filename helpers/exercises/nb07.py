"""Checks for notebook 07 (the training loop): evaluate, one training epoch, early stopping's rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.exercises.core import Check, Hint, call, expect, number
from helpers.exercises.probes import ModeProbe


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Three batches of 4, 4 and 2 samples: the last one is smaller, as in most epochs."""
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(10, 4, generator=g), torch.randint(0, 3, (10,), generator=g)
    return [(x[:4], y[:4]), (x[4:8], y[4:8]), (x[8:], y[8:])]


def _metrics(got: Any) -> tuple[float, float]:
    expect(isinstance(got, dict) and {"loss", "acc"} <= set(got), "return a dict with 'loss' and 'acc'")
    return number(got["loss"], "'loss'"), number(got["acc"], "'acc'")


def evaluate(answer: Any) -> str:
    """``evaluate(model, loader, loss_fn, device) -> {'loss', 'acc'}``: eval mode, no gradients, weighted means."""
    model, batches, loss_fn = ModeProbe(), _batches(), nn.CrossEntropyLoss(reduction="sum")
    with torch.no_grad():
        model.eval()
        x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
        out = model(x)
        loss, acc = loss_fn(out, y).item() / 10, (out.argmax(1) == y).float().mean().item()
        unweighted = sum(nn.CrossEntropyLoss()(model(bx), by).item() for bx, by in batches) / 3
    model.train()
    model.calls.clear()
    got_loss, got_acc = _metrics(call(answer, model, batches, nn.CrossEntropyLoss(), torch.device("cpu")))
    expect(bool(model.calls), "the model was never called")
    expect(all(not training for training, _ in model.calls), "the model ran in train mode: batch norm used each "
           "batch's statistics. Call `model.eval()` at the start of `evaluate`")
    expect(all(not grad for _, grad in model.calls), "the forward passes built autograd graphs: wrap the loop in "
                                                     "`torch.no_grad()` (or `torch.inference_mode()`)")
    if abs(got_loss - unweighted) < 1e-5:
        raise Hint(f"the loss is the plain mean of the batch losses ({got_loss:.4f}); the last batch holds 2 samples, "
                   "not 4. Weight each batch by its size: sum `loss.item() * len(y)`, divide by the number of samples "
                   f"(gives {loss:.4f})")
    expect(abs(got_loss - loss) < 1e-5, f"the loss over the 10 samples is {loss:.4f}, and yours is {got_loss:.4f}")
    expect(abs(got_acc - acc) < 1e-6, f"the accuracy over the 10 samples is {acc:.4f}, and yours is {got_acc:.4f}")
    return "eval mode, no gradients, every sample counted once: batch means weighted by batch size."


def train_one_epoch(answer: Any) -> str:
    """``train_one_epoch(model, loader, loss_fn, optimizer, device) -> {'loss', 'acc'}``: train mode, weighted."""
    batches, loss_fn = _batches(), nn.CrossEntropyLoss()
    reference = ModeProbe()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    losses, correct = 0.0, 0
    for x, y in batches:
        out = reference(x)
        loss = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses, correct = losses + loss.item() * len(y), correct + int((out.argmax(1) == y).sum())
    model = ModeProbe().eval()                                      # as `evaluate` leaves it
    model.calls.clear()
    got_loss, got_acc = _metrics(call(answer, model, batches, loss_fn, torch.optim.SGD(model.parameters(), lr=0.1),
                                      torch.device("cpu")))
    expect(len(model.calls) == 3, f"the model was called {len(model.calls)} times for 3 batches")
    expect(all(training for training, _ in model.calls), "the model trained in eval mode (the last `evaluate` left it "
           "there): call `model.train()` at the start of every epoch")
    expect(not torch.equal(model.first.weight, ModeProbe().first.weight), "the weights did not change: "
           "`loss.backward()` then `optimizer.step()`, after `optimizer.zero_grad()`")
    expect(all(torch.allclose(a, b, atol=1e-6) for a, b in zip(model.parameters(), reference.parameters(),
                                                                strict=True)),
           "after the epoch the weights differ from zero_grad, forward, loss, backward, step on each batch in order")
    expect(abs(got_loss - losses / 10) < 1e-5, f"the epoch's loss (each batch's loss before its step, weighted by its "
           f"size) is {losses / 10:.4f}, and yours is {got_loss:.4f}")
    expect(abs(got_acc - correct / 10) < 1e-6,
           f"the epoch's accuracy is {correct / 10:.4f}, and yours is {got_acc:.4f}")
    return "`model.train()` first, the five calls per batch, metrics weighted by batch size."


def should_stop(answer: Any) -> str:
    """``should_stop(val_losses, patience) -> bool``: True once ``patience`` epochs passed without a new best."""
    cases = [([], 2, False), ([1.0], 1, False), ([1.0, 0.9, 0.95], 2, False), ([1.0, 0.9, 0.95, 0.96], 2, True),
             ([1.0, 1.1], 1, True), ([0.5, 0.6, 0.7, 0.4], 3, False), ([1.0, 0.8, 0.9, 0.85, 0.88], 3, True),
             ([1.0, 0.8, 0.9, 0.85, 0.88], 4, False), ([1.0, 0.9, 0.9, 0.9], 2, True)]
    for losses, patience, want in cases:
        got = call(answer, list(losses), patience)
        if isinstance(got, (np.bool_, torch.Tensor)) and getattr(got, "shape", ()) in ((), (1,)):
            got = bool(got)                                      # numpy's and torch's booleans are fine
        expect(isinstance(got, bool), f"return True or False, not {type(got).__module__}.{type(got).__name__}")
        if got == want:
            continue
        if losses == [1.0, 0.9, 0.9, 0.9]:
            raise Hint(f"{losses}, patience {patience}: a loss equal to the best is not an improvement, so the best is "
                       "still epoch 2's, 2 epochs ago: stop. Compare with `<`, and keep the first epoch with the "
                       "lowest loss")
        if losses == [1.0, 0.8, 0.9, 0.85, 0.88]:
            raise Hint(f"{losses}, patience {patience}: the best loss, 0.8, was 3 epochs ago; 0.85 was better than "
                       "the epoch before but not a new best. Compare with the best loss so far, not the last epoch")
        since = len(losses) - 1 - min(range(len(losses)), key=losses.__getitem__) if losses else 0
        raise Hint(f"{losses}, patience {patience}: {since} epochs since the best, so it should "
                   f"{'stop' if want else 'go on'}. Stop when the epochs since the best reach `patience`"
                   + (" (you stop one epoch early)" if got and since == patience - 1 else ""))
    return "epochs since the best loss ≥ patience: stop."


CHECKS: dict[str, Check] = {"07.1": evaluate, "07.2": train_one_epoch, "07.3": should_stop}
