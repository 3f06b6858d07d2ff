"""The training loop of notebook 07, packaged: ``train_one_epoch``, ``evaluate`` and ``fit``.

Every dependency is a parameter (model, loaders, loss function, optimizer, scheduler, device);
nothing here builds an optimizer, re-initialises a model or keeps state between calls. The
functions return plain dicts of numbers; plotting takes those dicts.

Metrics are summed as tensors on the device and read once per epoch: an ``.item()`` per batch
would make the CPU wait for the GPU at every step. Wrong set-ups are refused before the first
batch, with the argument and the fix in the message (``helpers.engine_checks``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torch.utils.data import DistributedSampler

from helpers.callbacks import (
    HISTORY_KEYS,
    BatchEndCallback,
    Callback,
    EpochEndCallback,
    EpochStartCallback,
    Monitor,
    check_callbacks,
    is_better,
)
from helpers.distributed import is_main_process
from helpers.engine_checks import (
    check_batch,
    check_loader,
    check_model_device,
    check_precision,
    check_scheduler,
    loss_reduction,
)
from helpers.metrics import RunningMetrics, raise_if_not_finite
from helpers.utils import check_device

Batch = tuple[torch.Tensor, torch.Tensor]


def _autocast(device: torch.device, amp_dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None)


def _to_device(batch: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # non_blocking only on CUDA: there a copy from pinned memory overlaps compute, and one from
    # ordinary memory is synchronous anyway. On MPS an asynchronous copy from ordinary memory can
    # read a batch that has already been freed (and nothing in an epoch waits for the device).
    nb = device.type == "cuda"
    return batch[0].to(device, non_blocking=nb), batch[1].to(device, non_blocking=nb)


def _sharded(loader: object) -> bool:
    """Whether ``loader`` gives each process of a distributed run its own share (a DistributedSampler)."""
    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
    return isinstance(sampler, DistributedSampler) or isinstance(batch_sampler, DistributedSampler)


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    scheduler: LRScheduler | None = None,
    grad_clip: float | None = None,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    epoch: int = 1,
    progress: bool = False,
    check_every: int = 50,
    callbacks: Sequence[BatchEndCallback] = (),
    first_step: int = 0,
) -> dict[str, float]:
    """Train ``model`` for one pass over ``loader``.

    Per batch: forward (under ``torch.autocast`` when ``amp_dtype`` is set), loss,
    ``zero_grad``, ``backward`` (through ``scaler`` when given), optional gradient clipping,
    ``step``, and ``scheduler.step()`` if a (per-batch) scheduler is given.

    Args:
        model: The model, already on ``device``; put in training mode here.
        loader: Yields ``(inputs, targets)`` batches: targets are class indices ``(B,)`` or
            class probabilities ``(B, C)`` (MixUp/CutMix; accuracy then counts their top class).
        loss_fn: Maps ``(outputs, targets)`` to a scalar loss, with ``reduction`` ``"mean"`` or ``"sum"``.
        optimizer: Updates the model's parameters.
        device: Where each batch is moved: a ``torch.device`` or a name such as ``"cpu"``.
        scheduler: A per-batch scheduler (e.g. ``OneCycleLR``), stepped after every optimizer step.
        grad_clip: If set, ``clip_grad_norm_`` to this maximum norm before each step.
        amp_dtype: ``torch.bfloat16`` or ``torch.float16`` for mixed precision; None for full precision.
        scaler: A ``torch.amp.GradScaler``: required with float16, whose small gradients underflow.
        epoch: Used in progress bars and error messages only.
        progress: Show a ``tqdm.auto`` progress bar over the batches.
        check_every: Check that the loss is finite every this many batches (each check waits
            for the device); the epoch's end is always checked.
        callbacks: Objects with ``on_batch_end(step, loss, n, lr)``, called after every iteration
            with the global step ``first_step + i`` (batch ``i`` of this epoch, from 1), the
            batch's detached loss per sample (a tensor on the device: nothing here reads it), its
            size and the rate it used (``helpers.callbacks.BatchEndCallback``).
        first_step: Training iterations before this epoch (``fit`` passes them).

    Returns:
        ``{"loss", "acc", "n", "lr", "steps"}``: mean loss and accuracy weighted by batch size (a
        smaller last batch counts for what it holds), the number of samples, the mean learning
        rate of the first parameter group over the epoch's steps, and the number of steps.

    Raises:
        FloatingPointError: The loss became NaN or infinite; the message names the epoch and
            the range of batches since the last check.
        TypeError, ValueError: A wrong set-up, before the first batch; the message names the argument.
    """
    device = check_device(device)
    check_model_device(model, device)
    check_loader(loader, "loader", reusable=False)
    check_precision(amp_dtype, scaler)
    check_scheduler(scheduler, "batch", optimizer)
    if check_every < 1:
        raise ValueError(f"check_every must be >= 1, got {check_every}")
    if first_step < 0:
        raise ValueError(f"first_step must be >= 0 (the iterations before this epoch), got {first_step}")
    batch_cbs = [cb for cb in check_callbacks(callbacks) if isinstance(cb, BatchEndCallback)]
    reduction = loss_reduction(loss_fn)
    sums = RunningMetrics(device, reduction, all_reduce=_sharded(loader))
    lr_sum, checked = 0.0, 0
    model.train()
    bar = _batch_bar(loader, epoch) if progress else None
    i = 0
    for i, batch in enumerate(loader, start=1):
        if i == 1:
            check_batch(batch, "loader")
        inputs, targets = _to_device(batch, device)
        with _autocast(device, amp_dtype):
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
        optimizer.zero_grad()
        lr = float(optimizer.param_groups[0]["lr"])  # the rate this step uses
        lr_sum += lr
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
        sums.add(loss, outputs, targets)
        if batch_cbs:
            n = targets.shape[0]
            per_sample = loss.detach() / n if reduction == "sum" else loss.detach()
            for cb in batch_cbs:
                cb.on_batch_end(first_step + i, per_sample, n, lr)
        if i % check_every == 0:  # one sync every check_every batches, not one per batch
            raise_if_not_finite(sums.loss.item(), epoch, checked + 1, i)
            checked = i
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    result = sums.result("training", epoch, checked + 1, i)
    return {**result, "lr": lr_sum / max(i, 1), "steps": i}


def _batch_bar(loader: Iterable[Any], epoch: int) -> Any:
    """A progress bar over one epoch's batches, updated by hand.

    Not ``tqdm(loader)``: ``tqdm.auto``'s bar calls ``iter(loader)`` when it is created and again
    when iterated (tqdm issue #1598), so a DataLoader would start its workers twice per epoch and
    draw one more seed from the random generator than the same loop without a bar.
    """
    from tqdm.auto import tqdm  # imported on first use: keeps `import helpers.engine` light

    try:
        total: int | None = len(loader)  # type: ignore[arg-type]
    except TypeError:  # an IterableDataset without __len__
        total = None
    return tqdm(total=total, desc=f"epoch {epoch}", leave=False)


def evaluate(
    model: nn.Module,
    loader: Iterable[Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    device: torch.device | str,
    amp_dtype: torch.dtype | None = None,
    epoch: int = 0,
) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``loader``, in eval mode, without recording gradients.

    Args:
        model, loader, loss_fn, device, amp_dtype: As in ``train_one_epoch``.
        epoch: Used in error messages only.

    Returns:
        ``{"loss": mean loss, "acc": accuracy, "n": number of samples}``, weighted by batch size.
        When ``loader`` shards the data over processes (a ``DistributedSampler``), the sums of
        all processes are added first (``all_reduce``): every process must then call it.
    """
    device = check_device(device)
    check_model_device(model, device)
    check_loader(loader, "loader", reusable=False)
    check_precision(amp_dtype, None, training=False)
    sums = RunningMetrics(device, loss_reduction(loss_fn), all_reduce=_sharded(loader))
    model.eval()
    i = 0
    with torch.inference_mode(), _autocast(device, amp_dtype):
        for i, batch in enumerate(loader, start=1):
            if i == 1:
                check_batch(batch, "loader")
            inputs, targets = _to_device(batch, device)
            outputs = model(inputs)
            sums.add(loss_fn(outputs, targets), outputs, targets)
    return sums.result("evaluation", epoch, 1, i)


def fit(
    model: nn.Module,
    train_loader: Iterable[Batch],
    val_loader: Iterable[Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    epochs: int,
    *,
    scheduler: LRScheduler | ReduceLROnPlateau | None = None,
    scheduler_step: Literal["batch", "epoch"] = "epoch",
    grad_clip: float | None = None,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    monitor: Monitor = "val_loss",
    restore_best: bool = False,
    callbacks: Sequence[Callback] = (),
    history: dict[str, Any] | None = None,
    progress: bool | None = None,
    verbose: bool | None = None,
) -> dict[str, Any]:
    """Train until epoch ``epochs``, evaluating after each epoch; return the history.

    Args:
        model, train_loader, val_loader, loss_fn, optimizer, device: As in ``train_one_epoch``;
            the loaders must be re-iterable (a ``DataLoader`` or a list, not a generator).
        epochs: The last epoch to train (counted from 1, also when resuming).
        scheduler: Stepped per batch or per epoch (``scheduler_step``); ``ReduceLROnPlateau`` is
            stepped per epoch with the validation loss.
        scheduler_step: ``"batch"`` (``OneCycleLR``, ``CyclicLR``, warm-ups) or ``"epoch"`` (``StepLR``...).
        grad_clip, amp_dtype, scaler: As in ``train_one_epoch``.
        monitor: The history key that defines the best epoch (lower loss or higher accuracy).
        restore_best: At the end, load the weights of the best epoch back into ``model``. They
            are kept as a copy on the CPU, not on the device.
        callbacks: Objects with any of ``on_epoch_start(epoch)``, ``on_epoch_end(epoch, metrics,
            model)`` (which may return True to stop: ``helpers.callbacks.EarlyStopping``) and
            ``on_batch_end(step, loss, n, lr)`` (after every training iteration; ``step`` counts
            from the start of epoch 1, also when resuming if ``train_loader`` has a length).
        history: A history returned by an earlier ``fit`` to continue: training resumes at the
            epoch after its last one (with the model, optimizer and scheduler in the state that
            run left them, e.g. loaded from a checkpoint).
        progress: ``tqdm.auto`` progress bars over epochs and batches; None: on the main
            process only (every process of a distributed run would draw its own).
        verbose: Print one line per epoch; None: on the main process only.

    Returns:
        A history: per-epoch lists ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``,
        ``val_acc``, ``lr`` (the mean rate of the first parameter group over the epoch's
        optimizer steps: for a per-epoch schedule, the epoch's rate), and ``best_epoch`` (an int).

    Example:
        >>> history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=5)
        >>> plot_history(history)
    """
    main = is_main_process()
    progress = main if progress is None else progress
    verbose = main if verbose is None else verbose
    device = check_device(device)
    check_model_device(model, device)
    check_loader(train_loader, "train_loader", reusable=True)
    check_loader(val_loader, "val_loader", reusable=True)
    check_precision(amp_dtype, scaler)
    check_scheduler(scheduler, scheduler_step, optimizer)
    loss_reduction(loss_fn)
    if monitor not in HISTORY_KEYS[1:5]:
        raise ValueError(f"monitor must be one of the history's keys {', '.join(HISTORY_KEYS[1:5])}, got {monitor!r}")
    cbs = check_callbacks(callbacks)
    if restore_best:
        for cb in cbs:
            other = getattr(cb, "monitor", monitor)
            if other != monitor:
                warnings.warn(f"{type(cb).__name__} watches {other!r} but fit(monitor={monitor!r}) picks the best "
                              "epoch that restore_best restores: give both the same monitor", stacklevel=2)
    history = _continue(history)
    start = len(history["epoch"]) + 1
    if not isinstance(epochs, int) or epochs < start:
        raise ValueError(f"epochs is the last epoch to train; it must be an int >= {start}, got {epochs!r}")
    best_epoch = 0
    for e, value in zip(history["epoch"], history[monitor], strict=True):
        if best_epoch == 0 or is_better(monitor, value, history[monitor][best_epoch - 1]):
            best_epoch = e
    best_state: dict[str, torch.Tensor] | None = None
    batch_cbs = [cb for cb in cbs if isinstance(cb, BatchEndCallback)]
    # The global step of on_batch_end: iterations since epoch 1. Counted in this call, on top of
    # the iterations of the epochs being resumed from (known only when the loader has a length).
    try:
        steps_before = (start - 1) * len(train_loader)  # type: ignore[arg-type]
    except TypeError:  # an IterableDataset without __len__
        steps_before = 0
        if start > 1 and batch_cbs:
            warnings.warn(f"fit resumes at epoch {start} with on_batch_end callbacks but train_loader has no "
                          "length, so the steps of the earlier epochs are unknown and the step count restarts "
                          "at 1: give the loader a length (__len__), or log per epoch", stacklevel=2)
    steps_done = 0
    batch_scheduler = scheduler if scheduler_step == "batch" else None
    epoch_iter: Iterable[int] = range(start, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc="epochs", initial=start - 1, total=epochs)
    for epoch in epoch_iter:
        for cb in cbs:
            if isinstance(cb, EpochStartCallback):
                cb.on_epoch_start(epoch)
        train = train_one_epoch(model, train_loader, loss_fn, optimizer, device, scheduler=batch_scheduler,
                                grad_clip=grad_clip, amp_dtype=amp_dtype, scaler=scaler, epoch=epoch,
                                progress=progress, callbacks=batch_cbs, first_step=steps_before + steps_done)
        steps_done += int(train["steps"])
        val = evaluate(model, val_loader, loss_fn, device, amp_dtype=amp_dtype, epoch=epoch)
        if scheduler is not None and scheduler_step == "epoch":
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(val["loss"])
            else:
                scheduler.step()
        row = {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"],
               "val_loss": val["loss"], "val_acc": val["acc"], "lr": train["lr"]}
        for key in HISTORY_KEYS:
            history[key].append(row[key])
        if verbose:
            print(f"epoch {epoch:>3}: train loss {train['loss']:.4f} acc {train['acc']:.1%} | "
                  f"val loss {val['loss']:.4f} acc {val['acc']:.1%} | lr {train['lr']:.3g}")
        if best_epoch == 0 or is_better(monitor, row[monitor], history[monitor][best_epoch - 1]):
            best_epoch = epoch
            if restore_best:  # a CPU copy: the device keeps only the live weights
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        stop = False
        for cb in cbs:
            if isinstance(cb, EpochEndCallback) and cb.on_epoch_end(epoch, dict(row), model):
                stop = True
        if stop:
            break
    if restore_best:
        if best_state is not None:
            model.load_state_dict(best_state)
        elif best_epoch < start:
            warnings.warn(f"restore_best: the best epoch ({best_epoch}) came before this resumed run; its "
                          "weights are not in memory, so the model keeps its last weights", stacklevel=2)
    history["best_epoch"] = best_epoch
    return history


def _continue(history: dict[str, Any] | None) -> dict[str, Any]:
    """A fresh history, or a copy of ``history`` to append to (checked to be one that ``fit`` returned)."""
    if history is None:
        return {key: [] for key in HISTORY_KEYS}
    missing = [key for key in HISTORY_KEYS if key not in history]
    if missing:
        raise ValueError(f"history lacks {', '.join(missing)}: pass the dict an earlier fit returned")
    lengths = {len(history[key]) for key in HISTORY_KEYS}
    if len(lengths) != 1 or list(history["epoch"]) != list(range(1, len(history["epoch"]) + 1)):
        raise ValueError("history is inconsistent: its lists must have one entry per epoch, epochs 1, 2, ...")
    return {key: list(history[key]) for key in HISTORY_KEYS}
