"""Checks for notebook 04 (nn.Module): Net as a Sequential, forward hooks, initialisation for leaky ReLU."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from helpers.exercises.core import Check, Hint, call, expect


def _net_forward(layers: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Notebook 04's ``Net.forward``, on the weights of the given conv and linear layers, in order."""
    conv1, conv2, fc1, fc2, fc3 = layers
    x = F.max_pool2d(F.relu(conv1(x)), 2)
    x = F.max_pool2d(F.relu(conv2(x)), 2)
    x = torch.flatten(x, 1)
    return fc3(F.relu(fc2(F.relu(fc1(x)))))


def net_as_sequential(answer: Any) -> str:
    """``net_as_sequential() -> nn.Sequential``: notebook 04's ``Net``, layer for layer, as one Sequential."""
    torch.manual_seed(0)
    model = call(answer)
    expect(isinstance(model, nn.Sequential), f"return an `nn.Sequential`, not {type(model).__name__}")
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    shapes = [tuple(m.weight.shape) for m in weighted]
    expected = [(6, 3, 5, 5), (16, 6, 5, 5), (120, 400), (84, 120), (10, 84)]
    expect(shapes == expected, f"the weighted layers have shapes {shapes}; Net's are {expected}")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = call(model, x, hints=[("cannot be multiplied", "between the last pooling and the first `nn.Linear`, "
                                 "the (B, 16, 5, 5) maps must become (B, 400): add `nn.Flatten()`.")])
    expect(tuple(out.shape) == (2, 10), f"the output for 2 images should be (2, 10), and is {tuple(out.shape)}")
    expect(torch.allclose(out, _net_forward(weighted, x), atol=1e-5),
           "with the same weights, the output differs from Net's: each conv is followed by ReLU then 2x2 max-pool, "
           "and fc1 and fc2 by ReLU (fc3 gives raw logits)")
    return "the functional calls in `forward` became modules: `nn.ReLU`, `nn.MaxPool2d(2)`, `nn.Flatten()`."


def relu_means(answer: Any) -> str:
    """``relu_means(model, images) -> dict[str, float]``: each ReLU's mean output, recorded with forward hooks."""
    torch.manual_seed(0)
    # ReLUs that are not in place (SmallCNN's are), so a hook on the input would show a different mean.
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU()),
                          nn.Flatten(), nn.Linear(4 * 28 * 28, 6), nn.ReLU(), nn.Linear(6, 2)).eval()
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    names = [name for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    expected: dict[str, float] = {}
    handles = [m.register_forward_hook(lambda _m, _i, out, name=name: expected.__setitem__(name, out.mean().item()))
               for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(images)
    for handle in handles:
        handle.remove()
    got = call(answer, model, images.clone())
    expect(isinstance(got, dict), f"return a dict from each ReLU's name to its mean, not {type(got).__name__}")
    if len(got) == 1 and len(names) > 1:
        raise Hint(f"every hook wrote under one name, {list(got)}: a function defined in a loop sees the loop "
                   "variable's last value when it runs. Bind it when the hook is made: `lambda m, i, out, name=name: "
                   "...`, or `functools.partial`")
    expect(set(got) == set(names), f"the keys should be the ReLUs' names from `model.named_modules()`: {names}; "
                                   f"got {sorted(got)}")
    for name in names:
        expect(abs(float(got[name]) - expected[name]) < 1e-5, f"{name}: the mean output is {expected[name]:.5f}, and "
               f"yours is {float(got[name]):.5f}. Record `output.mean().item()` in the hook")
    left = [name for name, m in model.named_modules() if m._forward_hooks]
    expect(not left, f"hooks are still attached to {left}: they would run on every later forward. Keep the handles "
                     "that `register_forward_hook` returns and call `handle.remove()`")
    return "one hook per ReLU, found with `named_modules()`, removed afterwards."


def init_leaky(answer: Any) -> str:
    """``init_leaky(module)`` for ``model.apply``: Kaiming normal for leaky_relu(0.2) (fan_in), zero biases."""
    torch.manual_seed(0)
    linear, conv, norm = nn.Linear(1024, 256), nn.Conv2d(128, 256, 3), nn.BatchNorm2d(256)
    model = nn.Sequential(linear, nn.LeakyReLU(0.2), conv, norm)
    with torch.no_grad():
        norm.weight.fill_(0.5)                                   # not 1, so an init that sets it to 1 shows
    bn_weight = norm.weight.detach().clone()
    model.apply(lambda m: call(answer, m, returns=False))
    gain = math.sqrt(2 / (1 + 0.2**2))
    for layer in (linear, conv):
        fan_in, fan_out = layer.weight[0].numel(), layer.weight.shape[0] * layer.weight[0, 0].numel()
        std = float(layer.weight.detach().std())
        name = type(layer).__name__
        if abs(std - math.sqrt(2 / fan_in)) < 0.006 * std:
            raise Hint(f"the {name}'s weights have std sqrt(2 / fan_in): that is ReLU's gain. For leaky_relu with "
                       "slope 0.2, pass `a=0.2, nonlinearity=\"leaky_relu\"`")
        if abs(std - gain / math.sqrt(fan_out)) < 0.006 * std:
            raise Hint(f"the {name}'s std matches fan_out; keep `mode=\"fan_in\"` (the default), which keeps the "
                       "forward signal steady")
        expect(abs(std - gain / math.sqrt(fan_in)) < 0.006 * std, f"the {name}'s weights have std {std:.5f}; "
               f"Kaiming for leaky_relu(0.2) gives {gain / math.sqrt(fan_in):.5f}: `nn.init.kaiming_normal_(m.weight, "
               "a=0.2, nonlinearity=\"leaky_relu\")`")
        tails = float((layer.weight.detach().abs() > 2 * std).float().mean())
        expect(tails > 0.03, f"the {name}'s weights have the right std but {tails:.1%} of them lie beyond 2 std, where "
               "a normal distribution has 4.6 %: they are uniform. Use `nn.init.kaiming_normal_`")
        expect(layer.bias is not None and not layer.bias.any(), f"the {name}'s bias is not zero: `nn.init.zeros_`")
    expect(torch.equal(norm.weight, bn_weight), "the BatchNorm's weight changed: initialise only Conv2d and Linear "
                                                    "(test `isinstance(m, (nn.Conv2d, nn.Linear))`)")
    return "std = sqrt(2 / (1 + 0.2²)) / sqrt(fan_in) for weights, zeros for biases, other layers untouched."


CHECKS: dict[str, Check] = {"04.1": net_as_sequential, "04.2": relu_means, "04.3": init_leaky}
