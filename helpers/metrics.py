"""Metrics kept on the device, predictions, and the confusion matrix.

``RunningMetrics`` is what ``helpers.engine`` sums per batch: tensors on the device, read once
per epoch, because every ``.item()`` makes the CPU wait for the GPU. ``predict`` and
``confusion_matrix`` are what notebook 07 writes by hand before using them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import nn

from helpers.utils import check_device


class RunningMetrics:
    """Loss and correct-prediction counts summed on the device, weighted by batch size.

    Args:
        device: Where the sums live (the device the outputs are on).
        reduction: The loss's ``reduction``: ``"mean"`` losses are multiplied by the batch size,
            ``"sum"`` losses are already sums.
        all_reduce: Add the sums of all processes of a ``torch.distributed`` group before
            reading them (for data sharded by a ``DistributedSampler``; every process must then
            call ``result``).

    Example:
        >>> metrics = RunningMetrics(device, "mean")
        >>> metrics.add(loss, logits, targets)          # per batch: no sync
        >>> metrics.result("validation", epoch=1, first=1, last=n_batches)   # two .item() calls
    """

    def __init__(self, device: torch.device, reduction: str = "mean", all_reduce: bool = False) -> None:
        self.all_reduce = all_reduce
        self.loss = torch.zeros((), device=device)                         # sum of per-sample losses
        self.correct = torch.zeros((), device=device, dtype=torch.int64)
        self.seen = 0                                                      # a Python int: no sync
        self.per_sample = reduction == "mean"

    def add(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Add one batch: its loss, its ``(B, C)`` outputs and its ``(B,)`` or ``(B, C)`` targets.

        Probability (soft) targets, as MixUp and CutMix make them, count their most likely class.
        """
        n = targets.shape[0]
        self.loss += loss.detach().float() * n if self.per_sample else loss.detach().float()
        hard = targets.argmax(dim=1) if targets.is_floating_point() else targets
        self.correct += (outputs.detach().argmax(dim=1) == hard).sum()
        self.seen += n

    def result(self, what: str, epoch: int, first: int, last: int) -> dict[str, float]:
        """``{"loss", "acc", "n"}``, read from the device once; ``what``, ``epoch`` and the batch
        range ``first``-``last`` only name the place in error messages.

        With ``all_reduce`` under ``torch.distributed`` (a group of more than one process), the
        sums and counts of all processes are added first, so every process returns the metrics
        of all the data, not of its own share. (A ``DistributedSampler`` that pads the last shard
        repeats a few samples; they are counted twice.)
        """
        if self.all_reduce and _world_size() > 1:
            dtype = torch.float32 if self.loss.device.type == "mps" else torch.float64   # MPS has no float64
            packed = torch.stack([self.loss.to(dtype), self.correct.to(dtype),
                                  torch.tensor(float(self.seen), dtype=dtype, device=self.loss.device)])
            dist.all_reduce(packed, op=dist.ReduceOp.SUM)   # sums of sums, not an average of averages
            total, correct, seen = packed.tolist()
            seen = int(seen)
        else:
            total, correct, seen = self.loss.item(), None, self.seen
        if seen == 0:
            raise ValueError(f"the {what} loader yielded no batches in epoch {epoch}")
        raise_if_not_finite(total, epoch, first, last)
        hits = self.correct.item() if correct is None else correct
        return {"loss": total / seen, "acc": hits / seen, "n": seen}


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def raise_if_not_finite(value: float, epoch: int, first: int, last: int) -> None:
    """Raise a ``FloatingPointError`` naming the epoch and batch range if ``value`` is NaN or infinite."""
    if not math.isfinite(value):
        where = f"batch {first}" if first == last else f"batches {first}-{last}"
        raise FloatingPointError(f"loss became {value} in {where} of epoch {epoch}: stopping "
                                 "(try a lower learning rate, gradient clipping, or check the inputs)")


class Predictions(NamedTuple):
    """What ``predict`` returns, all on the CPU."""

    preds: torch.Tensor    #: (N,) int64 predicted classes
    probs: torch.Tensor    #: (N, C) float32 softmax probabilities
    targets: torch.Tensor  #: (N,) int64 true classes (empty if the loader yields inputs only)


def predict(model: nn.Module, loader: Iterable[Any], device: torch.device | str,
            amp_dtype: torch.dtype | None = None) -> Predictions:
    """Predicted classes, probabilities and targets of ``model`` over ``loader``, in eval mode.

    Args:
        model: A classifier returning ``(B, C)`` logits, already on ``device``.
        loader: Yields ``(inputs, targets)`` batches, or input tensors alone.
        device: Where the inputs are moved.
        amp_dtype: Optional ``torch.autocast`` dtype, as in ``helpers.engine.evaluate``.

    Returns:
        ``Predictions(preds, probs, targets)`` on the CPU, in the loader's order.

    Example:
        >>> preds, probs, targets = predict(model, val_loader, device)
        >>> matrix = confusion_matrix(preds, targets, num_classes=10)
    """
    device = check_device(device)
    model.eval()
    preds, probs, targets = [], [], []
    with torch.inference_mode(), torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        for batch in loader:
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            if not isinstance(inputs, torch.Tensor):
                raise TypeError("predict needs batches of input tensors or (inputs, targets), "
                                f"got {type(inputs).__name__}")
            logits = model(inputs.to(device, non_blocking=True))
            if logits.dim() != 2:
                raise ValueError(f"predict needs (B, C) logits from the model, got shape {tuple(logits.shape)}")
            p = logits.float().softmax(dim=1)
            probs.append(p.cpu())
            preds.append(p.argmax(dim=1).cpu())
            if isinstance(batch, (tuple, list)) and len(batch) > 1:
                targets.append(torch.as_tensor(batch[1]).cpu())
    if not probs:
        raise ValueError("the loader yielded no batches")
    all_targets = torch.cat(targets) if targets else torch.empty(0, dtype=torch.int64)
    return Predictions(torch.cat(preds), torch.cat(probs), all_targets)


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs: row = true class, column = prediction.

    Args:
        preds: ``(N,)`` predicted class indices.
        targets: ``(N,)`` true class indices.
        num_classes: ``C``.

    Returns:
        A ``(C, C)`` int64 tensor; its diagonal holds the correct predictions, row sums the
        number of samples of each class.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2)
        tensor([[1, 1],
                [0, 1]])
    """
    preds, targets = torch.as_tensor(preds), torch.as_tensor(targets)
    for name, values in (("preds", preds), ("targets", targets)):
        if values.is_floating_point() or values.dim() != 1:
            raise TypeError(f"{name} must be (N,) class indices, got {values.dtype} of shape {tuple(values.shape)}; "
                            "for (N, C) scores or probabilities use .argmax(dim=1)")
    if preds.shape != targets.shape:
        raise ValueError(f"preds and targets need the same length, got {len(preds)} and {len(targets)}")
    for name, values in (("preds", preds), ("targets", targets)):
        if len(values) and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} holds {int(values.min())}..{int(values.max())}, outside 0..{num_classes - 1}")
    flat = targets.long() * num_classes + preds.long()            # one bin per (true, predicted) pair
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)
