"""The one extension point of ``helpers.engine.fit``: callbacks called at the start and end of each epoch.

A callback is any object with one or both of these methods (fastai's idea, without the event
zoo):

- ``on_epoch_start(epoch)``: before the epoch's first batch, e.g. ``DistributedSampler.set_epoch``.
- ``on_epoch_end(epoch, metrics, model) -> bool | None``: after evaluation; ``metrics`` is the
  epoch's row of the history (``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``).
  Returning True asks ``fit`` to stop after this epoch (early stopping).

Checkpointing, logging and early stopping are callbacks, not keyword arguments of ``fit``.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol, runtime_checkable

from torch import nn

Monitor = Literal["val_loss", "val_acc", "train_loss", "train_acc"]
MONITORS: tuple[str, ...] = ("val_loss", "val_acc", "train_loss", "train_acc")


@runtime_checkable
class EpochStartCallback(Protocol):
    """Called before each epoch's first batch."""

    def on_epoch_start(self, epoch: int) -> None: ...


@runtime_checkable
class EpochEndCallback(Protocol):
    """Called after each epoch's evaluation; returning True asks ``fit`` to stop."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> bool | None: ...


#: What ``fit(callbacks=[...])`` accepts: an object with either method, or both.
Callback = EpochStartCallback | EpochEndCallback


def check_callbacks(callbacks: object) -> list[Callback]:
    """Return ``callbacks`` as a list, or raise a ``TypeError`` naming the one that is not a callback."""
    if isinstance(callbacks, (EpochStartCallback, EpochEndCallback)):
        raise TypeError("callbacks must be a list of callbacks; wrap the single one: callbacks=[...]")
    try:
        items = list(callbacks)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"callbacks must be a list of callbacks, got {type(callbacks).__name__}") from None
    for i, cb in enumerate(items):
        if not isinstance(cb, (EpochStartCallback, EpochEndCallback)):
            raise TypeError(f"callbacks[{i}] ({type(cb).__name__}) has neither on_epoch_start(epoch) nor "
                            "on_epoch_end(epoch, metrics, model); pass an instance with one of them")
    return items


def is_better(monitor: str, value: float, best: float) -> bool:
    """Whether ``value`` improves on ``best`` for ``monitor`` (lower loss, higher accuracy)."""
    if math.isnan(best):
        return True
    return value > best if monitor.endswith("acc") else value < best


class EarlyStopping:
    """Ask ``fit`` to stop when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: The history key to watch: ``"val_loss"`` (lower is better) or ``"val_acc"``
            (higher is better), or their ``train_`` versions.
        patience: Epochs without improvement to accept before stopping.
        min_delta: How much a change must exceed to count as an improvement.
        verbose: Print a line when it stops the run.

    Example:
        >>> stopper = EarlyStopping("val_acc", patience=3)
        >>> history = fit(..., callbacks=[stopper])
        >>> stopper.stopped_epoch   # None if it never stopped the run
    """

    def __init__(self, monitor: Monitor = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 verbose: bool = True) -> None:
        if monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORS)}, got {monitor!r}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.monitor, self.patience, self.min_delta, self.verbose = monitor, patience, min_delta, verbose
        self.best = math.nan
        self.best_epoch = 0
        self.waited = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> bool:
        value = metrics[self.monitor]
        sign = 1.0 if self.monitor.endswith("acc") else -1.0
        if math.isnan(self.best) or sign * (value - self.best) > self.min_delta:
            self.best, self.best_epoch, self.waited = value, epoch, 0
            return False
        self.waited += 1
        if self.waited < self.patience:
            return False
        self.stopped_epoch = epoch
        if self.verbose:
            print(f"early stop after epoch {epoch}: {self.monitor} has not improved for {self.patience} epochs "
                  f"(best {self.best:.4g} at epoch {self.best_epoch})")
        return True

    def __repr__(self) -> str:
        return f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, min_delta={self.min_delta})"
