"""Notebook 00, quickstart: accuracy, one training step, predictions."""

import torch


def accuracy(logits, targets):
    return (logits.argmax(dim=1) == targets).float().mean().item()


def train_step(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def predict(model, images):
    model.eval()
    with torch.no_grad():
        return model(images).argmax(dim=1)


SOLUTIONS = {"00.1": accuracy, "00.2": train_step, "00.3": predict}


def _accuracy_as_count(logits, targets):
    return int((logits.argmax(dim=1) == targets).sum())


def _accuracy_over_batch(logits, targets):
    return (logits.argmax(dim=0) == targets).float().mean().item()


def _step_without_zero_grad(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_without_step(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    return loss.item()


def _predict_in_train_mode(model, images):
    with torch.no_grad():
        return model(images).argmax(dim=1)


def _predict_with_gradients(model, images):
    model.eval()
    return model(images).argmax(dim=1)


def _predict_logits(model, images):
    model.eval()
    with torch.no_grad():
        return model(images)


def _zero_grad_between(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.zero_grad()                                        # wipes the gradients before the step
    optimizer.step()
    return loss.item()


MISTAKES = {
    "00.1": [(_accuracy_as_count, "number of correct predictions"), (_accuracy_over_batch, "`dim=1`")],
    "00.2": [
        (_step_without_zero_grad, "zero_grad()` before"),
        (_step_without_step, "optimizer.step()"),
        (_zero_grad_between, "with no `zero_grad()` in between"),
    ],
    "00.3": [
        (_predict_in_train_mode, "these are train-mode predictions"),
        (_predict_with_gradients, "ran with gradients on"),
        (_predict_logits, "you returned the logits"),
    ],
}
