"""The training loop of notebook 07, packaged: ``train_one_epoch``, ``evaluate`` and ``fit``.

Every dependency is a parameter (model, loaders, loss function, optimizer, scheduler, device);
nothing here builds an optimizer, re-initialises a model or keeps state between calls. The
functions return plain dicts of numbers; plotting takes those dicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from tqdm.auto import tqdm

Batch = tuple[torch.Tensor, torch.Tensor]


class _Metrics:
    """Running loss and accuracy, weighted by batch size (a smaller last batch counts for what it holds)."""

    def __init__(self) -> None:
        self.total_loss: float = 0.0
        self.correct: int = 0
        self.seen: int = 0

    def update(self, loss: float, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        n = len(targets)
        self.total_loss += loss * n  # loss is the batch mean
        self.correct += int((outputs.argmax(dim=1) == targets).sum().item())
        self.seen += n

    def result(self, what: str) -> dict[str, float]:
        if self.seen == 0:
            raise ValueError(f"the {what} loader yielded no batches")
        return {"loss": self.total_loss / self.seen, "acc": self.correct / self.seen, "n": self.seen}


def _autocast(device: torch.device, amp_dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None)


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[Batch],
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    scheduler: LRScheduler | None = None,
    grad_clip: float | None = None,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    epoch: int = 1,
    progress: bool = False,
) -> dict[str, float]:
    """Train ``model`` for one pass over ``loader``.

    Per batch: forward (under ``torch.autocast`` when ``amp_dtype`` is set), loss,
    ``zero_grad``, ``backward`` (through ``scaler`` when given), optional gradient clipping,
    ``step``, and ``scheduler.step()`` if a (per-batch) scheduler is given.

    Args:
        model: The model; put in training mode here.
        loader: Yields ``(inputs, targets)`` batches.
        loss_fn: Maps ``(outputs, targets)`` to a scalar mean loss.
        optimizer: Updates the model's parameters.
        device: Where each batch is moved.
        scheduler: A per-batch scheduler (e.g. ``OneCycleLR``), stepped after every optimizer step.
        grad_clip: If set, ``clip_grad_norm_`` to this maximum norm before each step.
        amp_dtype: ``torch.bfloat16`` or ``torch.float16`` for mixed precision; None for full precision.
        scaler: A ``torch.amp.GradScaler`` (needed with float16); None otherwise.
        epoch: Used in progress bars and error messages only.
        progress: Show a ``tqdm.auto`` progress bar over the batches.

    Returns:
        ``{"loss": mean loss, "acc": accuracy, "n": number of samples}``, both means weighted by
        batch size (a smaller last batch counts for what it holds).

    Raises:
        FloatingPointError: The loss became NaN or infinite; the message names epoch and batch.
    """
    model.train()
    metrics = _Metrics()
    batches = tqdm(loader, desc=f"epoch {epoch}", leave=False) if progress else loader
    for i, (inputs, targets) in enumerate(batches, start=1):
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with _autocast(device, amp_dtype):
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"loss is {value} at epoch {epoch}, batch {i}: stopping "
                                     "(try a lower learning rate, gradient clipping, or check the inputs)")
        optimizer.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        metrics.update(value, outputs, targets)
    return metrics.result("training")


def evaluate(
    model: nn.Module,
    loader: Iterable[Batch],
    loss_fn: nn.Module,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``loader``, in eval mode, without recording gradients.

    Returns:
        ``{"loss": mean loss, "acc": accuracy, "n": number of samples}``, weighted by batch size.
    """
    model.eval()
    metrics = _Metrics()
    with torch.inference_mode(), _autocast(device, amp_dtype):
        for inputs, targets in loader:
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            outputs = model(inputs)
            metrics.update(loss_fn(outputs, targets).item(), outputs, targets)
    return metrics.result("evaluation")


def fit(
    model: nn.Module,
    train_loader: Iterable[Batch],
    val_loader: Iterable[Batch],
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    epochs: int,
    scheduler: LRScheduler | ReduceLROnPlateau | None = None,
    scheduler_step: Literal["batch", "epoch"] = "epoch",
    grad_clip: float | None = None,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    monitor: Literal["val_loss", "val_acc"] = "val_loss",
    patience: int | None = None,
    restore_best: bool = False,
    progress: bool = True,
    verbose: bool = True,
) -> dict[str, list[Any]]:
    """Train for up to ``epochs`` epochs, evaluating after each; return the history.

    Args:
        model, train_loader, val_loader, loss_fn, optimizer, device: As in ``train_one_epoch``.
        epochs: Maximum number of epochs.
        scheduler: Stepped per batch or per epoch (``scheduler_step``); ``ReduceLROnPlateau`` is
            stepped per epoch with the validation loss.
        scheduler_step: ``"batch"`` (``OneCycleLR``, warm-ups) or ``"epoch"`` (``StepLR``...).
        grad_clip, amp_dtype, scaler: As in ``train_one_epoch``. With ``amp_dtype=torch.float16``
            and no ``scaler``, a ``GradScaler`` is created for you.
        monitor: The validation metric that defines "best" (lower loss or higher accuracy).
        patience: Stop after this many epochs without improvement of ``monitor``; None never stops early.
        restore_best: At the end, load the weights of the best epoch back into ``model``.
        progress: ``tqdm.auto`` progress bars over epochs and batches.
        verbose: Print one line per epoch.

    Returns:
        A history dict of per-epoch lists: ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``,
        ``val_acc``, ``lr`` (the first group's rate during the epoch), plus ``best_epoch``
        (a one-item list).

    Example:
        >>> history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, device, epochs=5)
        >>> plot_history(history)
    """
    if scheduler_step not in ("batch", "epoch"):
        raise ValueError(f"scheduler_step must be 'batch' or 'epoch', got {scheduler_step!r}")
    if amp_dtype == torch.float16 and scaler is None:
        scaler = torch.amp.GradScaler(device.type)
    batch_scheduler = scheduler if scheduler_step == "batch" and scheduler is not None else None
    history: dict[str, list[Any]] = {k: [] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")}
    sign = 1.0 if monitor == "val_loss" else -1.0  # compare as "lower is better"
    best_score, best_epoch, best_state, waited = math.inf, 0, None, 0
    epoch_iter = tqdm(range(1, epochs + 1), desc="epochs") if progress else range(1, epochs + 1)
    for epoch in epoch_iter:
        lr = optimizer.param_groups[0]["lr"]
        train = train_one_epoch(model, train_loader, loss_fn, optimizer, device, scheduler=batch_scheduler,
                                grad_clip=grad_clip, amp_dtype=amp_dtype, scaler=scaler, epoch=epoch,
                                progress=progress)
        val = evaluate(model, val_loader, loss_fn, device, amp_dtype=amp_dtype)
        if scheduler is not None and scheduler_step == "epoch":
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(val["loss"])
            else:
                scheduler.step()
        for key, value in (("epoch", epoch), ("train_loss", train["loss"]), ("train_acc", train["acc"]),
                           ("val_loss", val["loss"]), ("val_acc", val["acc"]), ("lr", lr)):
            history[key].append(value)
        if verbose:
            print(f"epoch {epoch:>3}: train loss {train['loss']:.4f} acc {train['acc']:.1%} | "
                  f"val loss {val['loss']:.4f} acc {val['acc']:.1%} | lr {lr:.3g}")
        score = sign * history[monitor][-1]
        if score < best_score:
            best_score, best_epoch, waited = score, epoch, 0
            if restore_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if patience is not None and waited >= patience:
                if verbose:
                    print(f"early stop: {monitor} has not improved for {patience} epochs (best: epoch {best_epoch})")
                break
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    history["best_epoch"] = [best_epoch]
    return history
