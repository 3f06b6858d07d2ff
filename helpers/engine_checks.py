"""Checks that ``helpers.engine`` runs before the first batch, so a wrong set-up fails at once,
with the argument at fault and the fix in the message, instead of deep inside PyTorch or, worse,
silently in epoch 2.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import CyclicLR, LRScheduler, OneCycleLR, ReduceLROnPlateau
from torch.utils.data import Dataset

#: Schedulers whose schedule is defined in optimizer steps, not epochs.
PER_BATCH_SCHEDULERS: tuple[type, ...] = (OneCycleLR, CyclicLR)


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":  # "cuda" means the current CUDA device
        current = torch.cuda.current_device()
        return (a.index if a.index is not None else current) == (b.index if b.index is not None else current)
    return True


def check_model_device(model: nn.Module, device: torch.device) -> None:
    """Refuse a model whose parameters sit on another device than ``device``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    param = next(model.parameters(), None)
    if param is not None and not _same_device(param.device, device):
        raise ValueError(f"the model's parameters are on {param.device} but device is {device}: "
                         "move the model first with model.to(device) (and build the optimizer after that)")


def check_loader(loader: object, name: str, reusable: bool) -> None:
    """Refuse a dataset passed as a loader, and (when ``reusable``) a one-shot iterator."""
    if isinstance(loader, Dataset):
        raise TypeError(f"{name} is a {type(loader).__name__} (a dataset), not a loader of batches: wrap it, "
                        f"e.g. DataLoader(dataset, batch_size=64, shuffle=True)")
    if not isinstance(loader, Iterable):
        raise TypeError(f"{name} must yield (inputs, targets) batches (a DataLoader or a list), "
                        f"got {type(loader).__name__}")
    # generators, and built-in iterators such as map, zip or iter(list); an iterator class of
    # your own whose __iter__ starts over (as DALI's do) is fine
    one_shot = isinstance(loader, types.GeneratorType) or (
        isinstance(loader, Iterator) and type(loader).__module__ in ("builtins", "itertools"))
    if reusable and one_shot:
        raise TypeError(f"{name} is a one-shot iterator ({type(loader).__name__}): it would be empty from the "
                        "second epoch on. Pass something fit can iterate every epoch: a DataLoader, or list(batches)")


def check_batch(batch: Any, name: str) -> None:
    """Refuse a first batch that is not an ``(inputs, targets)`` pair of tensors the engine can use."""
    shapes = ([tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__ for x in batch]
              if isinstance(batch, (tuple, list)) else type(batch).__name__)
    expected = ("the engine expects (inputs, targets) batches: inputs (B, ...) and targets (B,) int64 class "
                "indices (an integer dtype) or (B, C) float class probabilities")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        hint = ""
        if isinstance(batch, (tuple, list)) and len(batch) == 3:
            hint = (" A collate function returning (images, mask, labels), such as helpers.loading.collate_pad, "
                    "needs its mask dropped: use collate_pad's with_mask=False.")
        raise TypeError(f"{name} yielded a batch {shapes}; {expected}.{hint}")
    inputs, targets = batch
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(f"{name} yielded a batch {shapes}; {expected} (use a DataLoader, whose default "
                        "collate turns samples into tensors)")
    if targets.is_floating_point():
        ok = targets.dim() == 2 and targets.shape[0] == inputs.shape[0]
    else:  # class indices: any integer type (CrossEntropyLoss takes uint8 as well as int64)
        ok = targets.dim() == 1 and targets.shape[0] == inputs.shape[0] and targets.dtype != torch.bool
    if not ok:
        raise ValueError(f"{name} yielded inputs {tuple(inputs.shape)} with targets {tuple(targets.shape)} of "
                         f"dtype {targets.dtype}; {expected}")


def check_precision(amp_dtype: torch.dtype | None, scaler: object, training: bool = True) -> None:
    """Refuse an autocast dtype other than bfloat16/float16, and float16 training without a ``GradScaler``."""
    if amp_dtype not in (None, torch.bfloat16, torch.float16):
        raise ValueError(f"amp_dtype must be torch.bfloat16, torch.float16 or None, got {amp_dtype}")
    if training and amp_dtype == torch.float16 and scaler is None:
        raise ValueError("amp_dtype=torch.float16 needs a scaler: small float16 gradients underflow to zero. "
                         "Pass scaler=torch.amp.GradScaler(device.type), or use amp_dtype=torch.bfloat16, "
                         "which has float32's range and needs none")
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise TypeError(f"scaler must be a torch.amp.GradScaler, got {type(scaler).__name__}")
    if training and amp_dtype == torch.float16 and isinstance(scaler, torch.amp.GradScaler) and not scaler.is_enabled():
        raise ValueError("the GradScaler is disabled (built for a device type this machine lacks, or with "
                         "enabled=False), so float16 gradients would not be scaled: build it as "
                         "torch.amp.GradScaler(device.type)")


def check_scheduler(scheduler: object, step: str, optimizer: torch.optim.Optimizer) -> None:
    """Refuse a scheduler stepped at the wrong frequency, or attached to another optimizer."""
    if step not in ("batch", "epoch"):
        raise ValueError(f"scheduler_step must be 'batch' or 'epoch', got {step!r}")
    if scheduler is None:
        return
    if not isinstance(scheduler, (LRScheduler, ReduceLROnPlateau)):
        raise TypeError(f"scheduler must be a torch.optim.lr_scheduler object, got {type(scheduler).__name__}")
    if scheduler.optimizer is not optimizer:
        raise ValueError("scheduler was built for another optimizer than the one given: build it from this one, "
                         "e.g. StepLR(optimizer, ...)")
    name = type(scheduler).__name__
    if isinstance(scheduler, ReduceLROnPlateau) and scheduler.mode != "min":
        raise ValueError("fit steps ReduceLROnPlateau with the validation loss, which should fall: build it with "
                         "mode='min' (mode='max' would cut the rate while the loss improves)")
    if step == "batch" and isinstance(scheduler, ReduceLROnPlateau):
        raise ValueError("ReduceLROnPlateau reacts to a validation metric once per epoch: use scheduler_step='epoch'")
    if step == "epoch" and isinstance(scheduler, PER_BATCH_SCHEDULERS):
        raise ValueError(f"{name} counts optimizer steps (total_steps = epochs * batches per epoch): "
                         "use scheduler_step='batch'")


def loss_reduction(loss_fn: object) -> str:
    """The loss's ``reduction``: ``"mean"`` (or ``"batchmean"``) and ``"sum"`` are handled; ``"none"``
    gives one loss per sample, which ``backward`` cannot start from."""
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, e.g. nn.CrossEntropyLoss(), got {type(loss_fn).__name__}")
    if isinstance(loss_fn, functools.partial):      # partial(F.cross_entropy, reduction="sum")
        reduction = loss_fn.keywords.get("reduction", "mean")
    else:
        reduction = getattr(loss_fn, "reduction", "mean")
    if reduction == "batchmean":                    # KLDivLoss: the sum divided by the batch size, a mean per sample
        reduction = "mean"
    if reduction not in ("mean", "sum"):
        raise ValueError(f"loss_fn has reduction={reduction!r}: the engine needs one number per batch; use "
                         "reduction='mean' (or 'sum', which the engine divides by the batch size for its metrics)")
    return reduction
