"""Checks for notebook 06 (optimizers and schedulers): SGD momentum by hand, weight-decay groups, warmup + cosine."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from helpers.exercises.core import Check, Hint, call, expect
from helpers.models import SmallCNN


def momentum_step(answer: Any) -> str:
    """``momentum_step(param, grad, buf, lr, momentum) -> (param, buf)``: one step of ``torch.optim.SGD``."""
    g = torch.Generator().manual_seed(0)
    start, grads = torch.randn(5, generator=g), [torch.randn(5, generator=g) for _ in range(4)]
    weight = nn.Parameter(start.clone())
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    param, buf = start.clone(), None
    for step, grad in enumerate(grads, 1):
        weight.grad = grad.clone()
        optimizer.step()
        got = call(answer, param.clone(), grad.clone(), None if buf is None else buf.clone(), 0.1, 0.9,
                   hints=[("NoneType", "on the first step there is no buffer yet (`buf is None`): PyTorch starts it "
                           "as a copy of the gradient.")])
        expect(isinstance(got, (tuple, list)) and len(got) == 2, "return a pair: (new param, new buf)")
        param, buf = (torch.as_tensor(v) for v in got)
        want_buf = optimizer.state[weight]["momentum_buffer"]
        if not torch.allclose(buf, want_buf, atol=1e-6):
            raise Hint(f"step {step}: the buffer differs from PyTorch's. PyTorch's momentum adds the whole gradient, "
                       "`buf = momentum * buf + grad` (no `(1 - momentum)` factor: that is `dampening`), and the first "
                       "buffer is the gradient itself")
        expect(torch.allclose(param, weight.detach(), atol=1e-6), f"step {step}: the buffer is right, the parameter is "
               "not. The step is `param - lr * buf`: it moves along the buffer, not the raw gradient")
    return "buf = momentum · buf + grad; param -= lr · buf: four steps equal to `torch.optim.SGD`."


def decay_groups(answer: Any) -> str:
    """``decay_groups(model, weight_decay) -> list[dict]``: decay conv/linear weights; biases and norm layers not."""
    model = SmallCNN(width=4)
    groups = call(answer, model, 0.05)
    expect(isinstance(groups, (list, tuple)) and all(isinstance(group, dict) for group in groups),
           "return a list of parameter groups, dicts like {'params': [...], 'weight_decay': 0.05}")
    try:
        torch.optim.AdamW(groups, lr=1e-3)
    except Exception as error:
        raise Hint(f"`AdamW` refused the groups: {error}. Each parameter must be in exactly one group") from error
    decay = {id(p): group.get("weight_decay", 0.01) for group in groups for p in group["params"]}
    missing = [name for name, p in model.named_parameters() if id(p) not in decay]
    expect(not missing, f"these parameters are in no group, so they would never be trained: {missing}")
    for name, p in model.named_parameters():
        matrix = p.ndim > 1                                      # conv kernels and linear weights
        if not matrix and decay[id(p)] != 0 and name.endswith("weight"):
            raise Hint(f"{name} is decayed: it is a norm layer's scale (1-D), not a weight matrix. Select by "
                       "`p.ndim > 1` rather than by the name 'bias'")
        expect((decay[id(p)] == 0.05) if matrix else (decay[id(p)] == 0),
               f"{name} has weight_decay {decay[id(p)]}; conv and linear weights should have 0.05, biases and norm "
               "parameters 0 (say so explicitly: AdamW's default is 0.01)")
    return "weights with ndim > 1 decay; biases and BatchNorm's scale and shift do not."


def warmup_cosine(answer: Any) -> str:
    """``warmup_cosine(optimizer, warmup_steps, total_steps) -> scheduler``: linear warmup, then cosine to zero."""
    base, warmup, total = 0.1, 5, 20
    want = [base * (t + 1) / warmup if t < warmup
            else base * 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup))) for t in range(total)]
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base)
    scheduler = call(answer, optimizer, warmup, total)
    expect(hasattr(scheduler, "step"), f"return a scheduler (e.g. `LambdaLR`), not {type(scheduler).__name__}")
    used = []
    for _ in range(total):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    if math.isclose(used[0], base * want[0], rel_tol=1e-6):
        raise Hint(f"step 0 used {used[0]:g}, which is base_lr times the rate: `LambdaLR` multiplies base_lr by "
                   "what your function returns, so return the factor ((t + 1) / warmup_steps, ...), not the rate")
    if used[0] == 0:
        raise Hint("the first step used lr = 0, so it was wasted: with warmup, step t (from 0) uses "
                   "base_lr · (t + 1) / warmup_steps")
    ramp = "warmup: base_lr · (t + 1) / warmup_steps"
    cosine = "cosine over the steps after warmup: base_lr · (1 + cos(π · (t - warmup) / (total - warmup))) / 2"
    for t, (a, b) in enumerate(zip(used, want, strict=True)):
        expect(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9),
               f"step {t} used lr {a:.5f}, and should use {b:.5f}: {ramp if t < warmup else cosine}")
    return "LambdaLR with a warmup ramp that starts above zero and a cosine over the remaining steps."


CHECKS: dict[str, Check] = {"06.1": momentum_step, "06.2": decay_groups, "06.3": warmup_cosine}
