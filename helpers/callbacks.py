"""The one extension point of ``helpers.engine.fit``: callbacks called at the start and end of each epoch.

A callback is any object with one or both of these methods (fastai's idea, without the event
zoo):

- ``on_epoch_start(epoch)``: before the epoch's first batch, e.g. ``DistributedSampler.set_epoch``.
- ``on_epoch_end(epoch, metrics, model) -> bool | None``: after evaluation; ``metrics`` is the
  epoch's row of the history (``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``).
  Returning True asks ``fit`` to stop after this epoch (early stopping).
- ``on_batch_end(step, loss, n, lr)``: after each training iteration; ``step`` counts the
  iterations from the first epoch (1-based), ``loss`` is the batch's mean loss per sample as a
  tensor on the device, ``n`` the batch size. Reading the loss (``.item()``) makes the CPU wait
  for the device, so do that only every N steps.

Checkpointing (``CheckpointCallback``), logging (``helpers.tensorboard.TensorBoardCallback``) and
early stopping (``EarlyStopping``) are callbacks, not keyword arguments of ``fit``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from helpers.checkpoint import copy_atomically, save_checkpoint
from helpers.distributed import is_main_process

Monitor = Literal["val_loss", "val_acc", "train_loss", "train_acc"]
MONITORS: tuple[str, ...] = ("val_loss", "val_acc", "train_loss", "train_acc")
#: The per-epoch lists of the history ``fit`` returns (it adds ``best_epoch``, an int).
HISTORY_KEYS: tuple[str, ...] = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


@runtime_checkable
class EpochStartCallback(Protocol):
    """Called before each epoch's first batch."""

    def on_epoch_start(self, epoch: int) -> None: ...


@runtime_checkable
class EpochEndCallback(Protocol):
    """Called after each epoch's evaluation; returning True asks ``fit`` to stop."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> bool | None: ...


@runtime_checkable
class BatchEndCallback(Protocol):
    """Called after each training iteration (backward, optimizer step, per-batch scheduler step).

    - ``step``: iterations since the start of epoch 1, from 1. A resumed run continues the count
      when the training loader has a length. An iteration whose optimizer step ``GradScaler``
      skipped (an overflow in float16) still counts.
    - ``loss``: the batch's loss per sample (divided by ``n`` when the loss sums), detached, not
      scaled by a ``GradScaler``, still on the device. Weight it by ``n`` to average over batches.
    - ``n``: the number of samples in the batch (the last one may be smaller).
    - ``lr``: the rate of the first parameter group that the step used (with parameter groups,
      read the others from the optimizer).

    The gradients of the step are still in ``param.grad`` when it is called.
    """

    def on_batch_end(self, step: int, loss: torch.Tensor, n: int, lr: float) -> None: ...


_EPOCH_FILE = re.compile(r"epoch-(\d+)\.pt")

#: What ``fit(callbacks=[...])`` accepts: an object with any of the three methods.
Callback = EpochStartCallback | EpochEndCallback | BatchEndCallback
_KINDS = (EpochStartCallback, EpochEndCallback, BatchEndCallback)


def check_callbacks(callbacks: object) -> list[Callback]:
    """Return ``callbacks`` as a list, or raise a ``TypeError`` naming the one that is not a callback."""
    if isinstance(callbacks, _KINDS):
        raise TypeError("callbacks must be a list of callbacks; wrap the single one: callbacks=[...]")
    try:
        items = list(callbacks)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"callbacks must be a list of callbacks, got {type(callbacks).__name__}") from None
    for i, cb in enumerate(items):
        if not isinstance(cb, _KINDS):
            raise TypeError(f"callbacks[{i}] ({type(cb).__name__}) has none of on_epoch_start(epoch), "
                            "on_epoch_end(epoch, metrics, model) and on_batch_end(step, loss, n, lr); "
                            "pass an instance with one of them")
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


class CheckpointCallback:
    """Save a full training checkpoint after every epoch: ``last.pt``, ``best.pt`` and the N most recent.

    Each file is written by ``helpers.checkpoint.save_checkpoint`` (atomically: a crash mid-save
    leaves the previous file whole) and holds the model, the optimizer, scheduler and scaler given
    here, the epoch, the history so far, ``config`` and the random generators' states; resume
    with ``load_checkpoint`` and ``fit(..., history=checkpoint["history"])``.

    Args:
        folder: Where the files go (created if needed).
        optimizer, scheduler, scaler: The objects ``fit`` steps, saved with the model.
        monitor: The history key that picks ``best.pt`` (lower loss or higher accuracy).
        keep_last: How many per-epoch files ``epoch-NNN.pt`` to keep (the oldest are deleted);
            0 keeps none, only ``last.pt`` and ``best.pt``.
        config: Plain values describing the run, stored in every file.
        history: When resuming: the history loaded from the checkpoint, so the files written
            from now on hold the whole run and ``best.pt`` is only replaced by a better epoch.

    Put it last in ``fit``'s callbacks: the random state it saves must be the one the next epoch
    starts from. In a distributed run the main process writes the files, with its own random state.

    Example:
        >>> saver = CheckpointCallback("checkpoints/run1", optimizer, scheduler, monitor="val_acc", keep_last=2)
        >>> history = fit(..., callbacks=[saver])
        >>> saver.best_epoch, saver.saved       # the best epoch and the files now in the folder
    """

    def __init__(self, folder: str | Path, optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                 scaler: torch.amp.GradScaler | None = None, *, monitor: Monitor = "val_loss", keep_last: int = 1,
                 config: dict[str, Any] | None = None, history: dict[str, Any] | None = None) -> None:
        if monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORS)}, got {monitor!r}")
        if not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 0:
            raise ValueError(f"keep_last must be an int >= 0 (how many epoch files to keep), got {keep_last!r}")
        self.folder, self.monitor, self.keep_last = Path(folder), monitor, keep_last
        self.optimizer, self.scheduler, self.scaler, self.config = optimizer, scheduler, scaler, config
        self.history: dict[str, Any] = {key: list((history or {}).get(key, [])) for key in HISTORY_KEYS}
        self.best, self.best_epoch = math.nan, 0
        for epoch, value in zip(self.history["epoch"], self.history[monitor], strict=True):
            if is_better(monitor, value, self.best):
                self.best, self.best_epoch = value, epoch

    @property
    def saved(self) -> list[str]:
        """The checkpoint files now in ``folder``, sorted by name."""
        return sorted(p.name for p in self.folder.glob("*.pt"))

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        if epoch != len(self.history["epoch"]) + 1:
            held = len(self.history["epoch"])
            raise ValueError(f"CheckpointCallback got epoch {epoch} but holds a history of {held} epochs: "
                             "when resuming, pass the loaded history to it too, "
                             "CheckpointCallback(..., history=checkpoint['history'])")
        for key in self.history:
            self.history[key].append(metrics[key])
        improved = is_better(self.monitor, metrics[self.monitor], self.best)
        if improved:
            self.best, self.best_epoch = metrics[self.monitor], epoch
        if not is_main_process():     # every DDP process holds the same weights: one writes
            return
        history = {**self.history, "best_epoch": self.best_epoch}
        last = save_checkpoint(self.folder / "last.pt", model, self.optimizer, self.scheduler, self.scaler,
                               epoch=epoch, history=history, config=self.config)
        if improved:
            copy_atomically(last, self.folder / "best.pt")
        if self.keep_last:
            copy_atomically(last, self.folder / f"epoch-{epoch:03d}.pt")
        # Keep the keep_last most recent epochs up to this one; files of later epochs are left from
        # a run that this one resumed before its end (or from an older run in the same folder).
        numbered = {int(m.group(1)): p for p in self.folder.glob("epoch-*.pt") if (m := _EPOCH_FILE.fullmatch(p.name))}
        recent = sorted(n for n in numbered if n <= epoch)[-self.keep_last:] if self.keep_last else []
        for n, path in numbered.items():
            if n not in recent:
                path.unlink()

    def __repr__(self) -> str:
        return f"CheckpointCallback({str(self.folder)!r}, monitor={self.monitor!r}, keep_last={self.keep_last})"
