"""Notebook 08, devices and memory: moving a nested batch, Adam's memory, gradient accumulation."""

import torch


def to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)               # .to() returns a new tensor: use it
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch                                                 # strings, numbers: as they are


def adam_training_bytes(model):
    n = sum(p.numel() for p in model.parameters())
    return n * 4 * 4                                             # weight, gradient, exp_avg, exp_avg_sq: float32


def accumulate_step(model, micro_batches, loss_fn, optimizer):
    k = len(micro_batches)
    optimizer.zero_grad()
    for images, labels in micro_batches:
        (loss_fn(model(images), labels) / k).backward()          # gradients add up across micro-batches
    optimizer.step()


SOLUTIONS = {"08.1": to_device, "08.2": adam_training_bytes, "08.3": accumulate_step}


def _to_device_unassigned(batch, device):
    for value in batch.values():
        if isinstance(value, torch.Tensor):
            value.to(device)                                     # the moved tensor is thrown away
    return batch


def _to_device_top_level(batch, device):
    return {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


def _bytes_without_adam(model):
    return sum(p.numel() for p in model.parameters()) * 4 * 2


def _accumulate_without_dividing(model, micro_batches, loss_fn, optimizer):
    optimizer.zero_grad()
    for images, labels in micro_batches:
        loss_fn(model(images), labels).backward()
    optimizer.step()


def _zero_grad_inside(model, micro_batches, loss_fn, optimizer):
    for images, labels in micro_batches:
        optimizer.zero_grad()
        (loss_fn(model(images), labels) / len(micro_batches)).backward()
    optimizer.step()


def _bytes_with_step(model):
    params = list(model.parameters())
    return sum(p.numel() for p in params) * 16 + 4 * len(params)   # Adam's step counters, measured


def _no_zero_grad(model, micro_batches, loss_fn, optimizer):
    for images, labels in micro_batches:
        (loss_fn(model(images), labels) / len(micro_batches)).backward()
    optimizer.step()


def _one_big_batch(model, micro_batches, loss_fn, optimizer):
    images = torch.cat([x for x, _ in micro_batches])
    labels = torch.cat([y for _, y in micro_batches])
    optimizer.zero_grad()
    loss_fn(model(images), labels).backward()
    optimizer.step()


def _divide_by_micro_batch_size(model, micro_batches, loss_fn, optimizer):
    optimizer.zero_grad()
    for images, labels in micro_batches:
        (loss_fn(model(images), labels) / len(images)).backward()
    optimizer.step()


def _one_backward(model, micro_batches, loss_fn, optimizer):
    optimizer.zero_grad()
    total = sum(loss_fn(model(x), y) / len(micro_batches) for x, y in micro_batches)
    total.backward()                                             # every micro-batch's graph held until here
    optimizer.step()


MISTAKES = {
    "08.1": [(_to_device_unassigned, "returns a new tensor"), (_to_device_top_level, "recursion")],
    "08.2": [(_bytes_without_adam, "without Adam's state"), (_bytes_with_step, "Adam\'s `step` counters")],
    "08.3": [
        (_accumulate_without_dividing, "3 times too large"),
        (_zero_grad_inside, "only the last micro-batch"),
        (_no_zero_grad, "left from an earlier step"),
        (_one_big_batch, "the model saw batches of [12]"),
        (_divide_by_micro_batch_size, "micro-batch\'s size"),
        (_one_backward, "`backward()` ran 1 time"),
    ],
}
