"""Checks for notebook 05 (losses): gradients per element, label smoothing, a stable BCE, balanced class weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from helpers.exercises.core import Check, Hint, call, expect

_ERRORS = [-3.0, -0.5, 0.5, 3.0]


def loss_gradients(answer: Any) -> str:
    """``loss_gradients(loss_fn, errors) -> tensor``: d loss / d prediction for each error on its own."""
    errors = torch.tensor(_ERRORS)
    expected = {"MSELoss": 2 * errors, "L1Loss": errors.sign(), "HuberLoss": errors.clamp(-1, 1)}
    for loss_fn in (nn.MSELoss(), nn.L1Loss(), nn.HuberLoss(delta=1.0)):
        name = type(loss_fn).__name__
        got = call(answer, loss_fn, errors.clone(), hints=[("does not require grad", "autograd only tracks tensors "
                   "made with `requires_grad=True`: `pred = errors.clone().requires_grad_()`.")])
        shape = getattr(got, "shape", type(got).__name__)
        expect(isinstance(got, torch.Tensor) and got.shape == (4,),
               f"return one gradient per error, a tensor of shape (4,); got {shape}")
        got, want = got.detach().float(), expected[name]
        if torch.allclose(got, want / 4):
            raise Hint(f"{name}: your gradients are 4 times too small. With the default `reduction=\"mean\"` the "
                       "loss is divided by the number of elements, and so is each gradient: use a loss with "
                       "`reduction=\"sum\"`, or call the loss on one element at a time")
        if torch.allclose(got, -want):
            raise Hint(f"{name}: the signs are reversed: the error is prediction - target, and the gradient is taken "
                       "with respect to the prediction")
        expect(torch.allclose(got, want), f"{name}: at errors {_ERRORS} the gradients are {want.tolist()}, and yours "
                                          f"are {got.tolist()}")
    return ("MSE's gradient grows with the error (2e), L1's is ±1 whatever the error, Huber's grows up to delta "
            "and then stays: an outlier pulls on MSE the hardest.")


def smooth_targets(answer: Any) -> str:
    """``smooth_targets(labels, num_classes, eps) -> (N, C)``: the probabilities ``label_smoothing=eps`` trains on."""
    labels = torch.tensor([0, 3, 1, 3])
    logits = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    got = call(answer, labels.clone(), 5, 0.1)
    expect(isinstance(got, torch.Tensor) and got.shape == (4, 5),
           f"return an (N, C) = (4, 5) tensor of probabilities; got {getattr(got, 'shape', type(got).__name__)}")
    got = got.float()
    expect(torch.allclose(got.sum(1), torch.ones(4)), f"each row should sum to 1; yours sum to {got.sum(1).tolist()}")
    if torch.isclose(got[0, 0], torch.tensor(0.9)) and torch.isclose(got[0, 1], torch.tensor(0.1 / 4)):
        raise Hint("you spread eps over the other C - 1 classes. PyTorch spreads it over all C, the true class "
                   "included: the true class gets 1 - eps + eps / C, every other class eps / C")
    smoothed = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels)
    expect(torch.allclose(nn.CrossEntropyLoss()(logits, got), smoothed), "cross-entropy on your targets differs from "
           "`CrossEntropyLoss(label_smoothing=0.1)` on the labels: the true class gets 1 - eps + eps / C")
    return "(1 - eps) · one_hot + eps / C: the same loss as `label_smoothing=eps`."


class _Calls(TorchFunctionMode):
    """Records the name of every torch function called while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.names.append(getattr(func, "__name__", ""))
        return func(*args, **(kwargs or {}))


def bce_with_logits(answer: Any) -> str:
    """``bce_with_logits(z, y) -> scalar``: the mean binary cross-entropy on logits, finite for any logit."""
    z = torch.tensor([-200.0, -20.0, -1.0, 0.0, 2.0, 30.0, 200.0])
    y = torch.tensor([1.0, 0.0, 0.3, 1.0, 0.0, 0.0, 1.0])
    with _Calls() as calls:                                      # sees F.*, torch.* and nn.BCEWithLogitsLoss alike
        got = call(answer, z.clone(), y.clone())
    expect(not any("binary_cross_entropy" in name for name in calls.names), "this calls PyTorch's own BCE on "
           "logits; the exercise is to write the formula yourself, with `F.logsigmoid`")
    expect(isinstance(got, torch.Tensor), f"return a tensor (so it can be backpropagated), not {type(got).__name__}")
    expect(got.shape == (), f"return the mean over elements, a scalar; got shape {tuple(got.shape)}")
    if not torch.isfinite(got):
        raise Hint(f"the loss is {got.item()}: at logits like ±200, `sigmoid` rounds to exactly 0 or 1 (so `log` "
                   "gets 0) and `exp` overflows to inf. Write it with `F.logsigmoid(z)` (log σ(z)) and "
                   "`F.logsigmoid(-z)` (log(1 - σ(z))), which never form those numbers")
    want = nn.BCEWithLogitsLoss()(z, y)
    expect(torch.allclose(got, want, rtol=1e-4), f"the mean loss should be {want.item():.4f}, and yours is "
                                                 f"{got.item():.4f}")
    return "-(y · logsigmoid(z) + (1 - y) · logsigmoid(-z)), averaged: what `BCEWithLogitsLoss` computes."


def balanced_alpha(answer: Any) -> str:
    """``balanced_alpha(targets, num_classes) -> (C,)``: N / (C · count_c), and a ValueError for an empty class."""
    targets = torch.tensor([0] * 50 + [1] * 30 + [2] * 15 + [3] * 5)
    got = call(answer, targets.clone(), 4)
    expect(isinstance(got, torch.Tensor) and got.shape == (4,),
           f"return one weight per class, shape (4,); got {getattr(got, 'shape', type(got).__name__)}")
    counts = torch.bincount(targets, minlength=4).float()
    per_class = got.float() * counts                             # each class's total weight
    if got[0] > got[3]:
        raise Hint("the most common class got the largest weight; weight each class by 1 / its count")
    expect(torch.allclose(per_class, per_class.mean().expand(4), rtol=1e-4), f"each class's total weight "
           f"(alpha_c · count_c) should be the same; yours are {per_class.tolist()}")
    expect(bool(torch.isclose(per_class.sum(), torch.tensor(100.0), rtol=1e-4)),
           f"the classes now count equally, but the total weight is {per_class.sum().item():.4g} "
           "instead of N = 100, which rescales the loss (and the "
           "step size with it): use N / (C · count_c)")
    again = call(answer, targets.tolist(), 4, hints=[("bincount", "`targets` may come as a list (notebook 03's is): "
                                                      "`torch.as_tensor(targets)` first.")])
    expect(isinstance(again, torch.Tensor) and torch.allclose(again.float(), torch.as_tensor(got).float()),
           "a list of labels gave other weights than the same labels as a tensor: start with "
           "`torch.as_tensor(targets)`")
    try:
        empty = answer(torch.tensor([0, 0, 1, 1]), 3)
    except ValueError as error:
        expect("2" in str(error), f"the ValueError says {str(error)!r}: name the empty class (class 2 here), so the "
                                  "person reading it knows which folder or label to look at")
        return "N / (C · count_c): every class weighs N / C in all, and an empty class is refused by name."
    except Exception as error:
        raise Hint(f"class 2 has no samples, and your code raised {type(error).__name__}: {error}. Raise a ValueError "
                   "that names the empty class") from error
    raise Hint(f"class 2 has no samples, and your weights are {empty.tolist() if hasattr(empty, 'tolist') else empty}:"
               " raise a ValueError that names the empty class instead of dividing by zero")


CHECKS: dict[str, Check] = {"05.1": loss_gradients, "05.2": smooth_targets, "05.3": bce_with_logits,
                            "05.4": balanced_alpha}
