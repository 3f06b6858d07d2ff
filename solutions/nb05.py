"""Notebook 05, losses: gradients per element, label smoothing, a stable BCE, balanced class weights."""

import torch
import torch.nn.functional as F


def loss_gradients(loss_fn, errors):
    grads = []
    for error in errors:                                         # one element at a time: no mean over elements
        pred = error.clone().requires_grad_()
        loss_fn(pred, torch.zeros_like(pred)).backward()
        grads.append(pred.grad)
    return torch.stack(grads)


def smooth_targets(labels, num_classes, eps):
    one_hot = F.one_hot(labels, num_classes).float()
    return one_hot * (1 - eps) + eps / num_classes


def bce_with_logits(z, y):
    return -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).mean()


def balanced_alpha(targets, num_classes):
    targets = torch.as_tensor(targets)                           # a list of labels works too
    counts = torch.bincount(targets, minlength=num_classes).float()
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"classes {empty} have no samples: their weight would be infinite")
    return len(targets) / (num_classes * counts)


SOLUTIONS = {"05.1": loss_gradients, "05.2": smooth_targets, "05.3": bce_with_logits, "05.4": balanced_alpha}


def _gradients_of_the_mean(loss_fn, errors):
    pred = errors.clone().requires_grad_()
    loss_fn(pred, torch.zeros_like(pred)).backward()
    return pred.grad


def _smoothing_over_the_others(labels, num_classes, eps):
    one_hot = F.one_hot(labels, num_classes).float()
    return one_hot * (1 - eps) + (1 - one_hot) * eps / (num_classes - 1)


def _one_hot_only(labels, num_classes, eps):
    return F.one_hot(labels, num_classes).float()


def _bce_through_sigmoid(z, y):
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def _alpha_inverse_count(targets, num_classes):
    return 1 / torch.bincount(targets, minlength=num_classes).float()


def _alpha_frequency(targets, num_classes):
    return torch.bincount(targets, minlength=num_classes).float() / len(targets)


def _bce_builtin(z, y):
    return F.binary_cross_entropy_with_logits(z, y)


def _bce_without_abs(z, y):
    return (torch.log1p(torch.exp(z)) - z * y).mean()           # exp(200) overflows


def _alpha_unnamed_error(targets, num_classes):
    counts = torch.bincount(torch.as_tensor(targets), minlength=num_classes).float()
    if (counts == 0).any():
        raise ValueError("a class has no samples")
    return len(targets) / (num_classes * counts)


def _alpha_tensor_only(targets, num_classes):
    counts = targets.bincount(minlength=num_classes).float()    # a list has no .bincount
    if (counts == 0).any():
        raise ValueError(f"classes {(counts == 0).nonzero().flatten().tolist()} have no samples")
    return len(targets) / (num_classes * counts)


def _bce_torch_builtin(z, y):
    return torch.binary_cross_entropy_with_logits(z, y, None, None, 1)


MISTAKES = {
    "05.1": [(_gradients_of_the_mean, "4 times too small")],
    "05.2": [(_smoothing_over_the_others, "spreads it over all C"), (_one_hot_only, "label_smoothing=0.1")],
    "05.3": [
        (_bce_through_sigmoid, "F.logsigmoid(z)"),
        (_bce_builtin, "write the formula yourself"),
        (_bce_without_abs, "`exp` overflows"),
        (_bce_torch_builtin, "own BCE"),
    ],
    "05.4": [
        (_alpha_inverse_count, "instead of N = 100"),
        (_alpha_frequency, "the most common class"),
        (_alpha_unnamed_error, "name the empty class"),
        (_alpha_tensor_only, "torch.as_tensor(targets)"),
    ],
}
