"""Notebook 06, optimizers and schedulers: SGD momentum by hand, weight-decay groups, warmup + cosine."""

import math

from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LinearLR, SequentialLR


def momentum_step(param, grad, buf, lr, momentum):
    buf = grad.clone() if buf is None else momentum * buf + grad
    return param - lr * buf, buf


def decay_groups(model, weight_decay):
    matrices = [p for p in model.parameters() if p.ndim > 1]    # conv kernels, linear weights
    others = [p for p in model.parameters() if p.ndim <= 1]     # biases, BatchNorm's scale and shift
    return [{"params": matrices, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]


def warmup_cosine(optimizer, warmup_steps, total_steps):
    def factor(step):                                            # step: how many times scheduler.step() ran
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * progress))
    return LambdaLR(optimizer, factor)


SOLUTIONS = {"06.1": momentum_step, "06.2": decay_groups, "06.3": warmup_cosine}


def _momentum_dampened(param, grad, buf, lr, momentum):
    buf = grad.clone() if buf is None else momentum * buf + (1 - momentum) * grad
    return param - lr * buf, buf


def _decay_by_name(model, weight_decay):
    named = list(model.named_parameters())
    return [{"params": [p for n, p in named if not n.endswith("bias")], "weight_decay": weight_decay},
            {"params": [p for n, p in named if n.endswith("bias")], "weight_decay": 0.0}]


def _warmup_from_zero(optimizer, warmup_steps, total_steps):
    def factor(step):
        if step < warmup_steps:
            return step / warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))
    return LambdaLR(optimizer, factor)


def _lambda_returns_rate(optimizer, warmup_steps, total_steps):
    base = optimizer.param_groups[0]["lr"]
    return LambdaLR(optimizer, lambda step: base * warmup_cosine_factor(step, warmup_steps, total_steps))


def warmup_cosine_factor(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))


def _sequential(optimizer, warmup_steps, total_steps):
    warmup = LinearLR(optimizer, start_factor=1 / warmup_steps, total_iters=warmup_steps - 1)
    cosine = CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps)
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])


MISTAKES = {
    "06.1": [(_momentum_dampened, "dampening")],
    "06.2": [(_decay_by_name, "norm layer's scale")],
    "06.3": [(_warmup_from_zero, "the first step used lr = 0"), (_lambda_returns_rate, "return the factor")],
}

#: Correct answers written another way: the checks must accept them too.
ALTERNATIVES = {
    "06.3": [_sequential],
}
