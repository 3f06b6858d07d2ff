"""Notebook 07, the training loop: evaluate, one training epoch, early stopping's rule."""

import numpy as np
import torch


def my_evaluate(model, loader, loss_fn, device):
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            total_loss += loss_fn(outputs, labels).item() * len(labels)     # the batch's mean, times its size
            correct += (outputs.argmax(1) == labels).sum().item()
            seen += len(labels)
    return {"loss": total_loss / seen, "acc": correct / seen}


def my_train_one_epoch(model, loader, loss_fn, optimizer, device):
    model.train()                                                # my_evaluate() left it in eval mode
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        outputs = model(images)
        loss = loss_fn(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(labels)
        correct += (outputs.argmax(1) == labels).sum().item()
        seen += len(labels)
    return {"loss": total_loss / seen, "acc": correct / seen}


def should_stop(val_losses, patience):
    if not val_losses:
        return False
    best = min(range(len(val_losses)), key=val_losses.__getitem__)  # the first epoch with the lowest loss
    return len(val_losses) - 1 - best >= patience


SOLUTIONS = {"07.1": my_evaluate, "07.2": my_train_one_epoch, "07.3": should_stop}


def _evaluate_unweighted(model, loader, loss_fn, device):
    model.eval()
    losses, accs = [], []
    with torch.no_grad():
        for images, labels in loader:
            outputs = model(images.to(device))
            losses.append(loss_fn(outputs, labels.to(device)).item())
            accs.append((outputs.argmax(1) == labels).float().mean().item())
    return {"loss": sum(losses) / len(losses), "acc": sum(accs) / len(accs)}


def _evaluate_in_train_mode(model, loader, loss_fn, device):
    with torch.no_grad():
        return _evaluate_body(model, loader, loss_fn, device)


def _evaluate_with_gradients(model, loader, loss_fn, device):
    model.eval()
    return _evaluate_body(model, loader, loss_fn, device)


def _evaluate_body(model, loader, loss_fn, device):
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        outputs = model(images.to(device))
        total_loss += loss_fn(outputs, labels).item() * len(labels)
        correct += (outputs.argmax(1) == labels).sum().item()
        seen += len(labels)
    return {"loss": total_loss / seen, "acc": correct / seen}


def _train_in_eval_mode(model, loader, loss_fn, optimizer, device):
    model.train = lambda mode=True: model                        # as if `model.train()` were left out
    return my_train_one_epoch(model, loader, loss_fn, optimizer, device)


def _stop_one_early(val_losses, patience):
    if not val_losses:
        return False
    best = min(range(len(val_losses)), key=val_losses.__getitem__)
    return len(val_losses) - best >= patience


def _compare_with_last_epoch(val_losses, patience):
    worse = 0
    for before, now in zip(val_losses[:-1], val_losses[1:], strict=True):
        worse = worse + 1 if now >= before else 0
    return worse >= patience


def _tie_is_improvement(val_losses, patience):
    if not val_losses:
        return False
    best = max(i for i, loss in enumerate(val_losses) if loss == min(val_losses))   # the last of equal minima
    return len(val_losses) - 1 - best >= patience


def _numpy_rule(val_losses, patience):
    return len(val_losses) > 0 and np.int64(len(val_losses)) - 1 - np.argmin(val_losses) >= patience


MISTAKES = {
    "07.1": [
        (_evaluate_unweighted, "Weight each batch by its size"),
        (_evaluate_in_train_mode, "ran in train mode"),
        (_evaluate_with_gradients, "built autograd graphs"),
    ],
    "07.2": [(_train_in_eval_mode, "call `model.train()`")],
    "07.3": [
        (_stop_one_early, "you stop one epoch early"),
        (_compare_with_last_epoch, "the best loss so far"),
        (_tie_is_improvement, "a loss equal to the best is not an improvement"),
    ],
}

#: Correct answers written another way: the checks must accept them too.
ALTERNATIVES = {
    "07.3": [_numpy_rule],
}
