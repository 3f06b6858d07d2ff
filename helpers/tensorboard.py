"""TensorBoard for ``helpers.engine.fit``: a logging callback, and the event files read back.

Notebook 11 teaches ``torch.utils.tensorboard.SummaryWriter`` call by call; this module only
packages the calls a training run repeats every epoch. The callback takes a ``SummaryWriter``
that you create (and close), so where the files go and what else you log stay in your hands.

Tags, grouped by the part before ``/`` as TensorBoard's dashboards do:

- ``loss/train``, ``loss/val``, ``accuracy/train``, ``accuracy/val``, ``lr`` at every epoch
  (``global_step`` = the epoch number, 1-based, as in ``fit``'s history);
- ``weights/<parameter>`` and ``grads/<parameter>`` histograms every ``histograms_every`` epochs
  (the gradients are those of the epoch's last batch);
- ``steps/loss`` (the mean training loss per sample over the last N batches, as the classic
  tutorials' ``running_loss / N``) and ``steps/lr`` (the first parameter group's rate) every
  ``log_every_n_steps`` steps, at ``global_step`` = the training iterations since the start of
  epoch 1. The batches after the last multiple of N when ``fit`` ends are not logged; a new
  callback on resume logs its first window with the batches since the resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from helpers.checkpoint import unwrap_model
from helpers.distributed import is_main_process

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

#: The tags of the per-step scalars (``log_every_n_steps``).
STEP_TAGS: tuple[str, str] = ("steps/loss", "steps/lr")
#: The history key of ``fit`` -> the tag it is logged under.
SCALAR_TAGS: dict[str, str] = {
    "train_loss": "loss/train", "val_loss": "loss/val",
    "train_acc": "accuracy/train", "val_acc": "accuracy/val", "lr": "lr",
}


class TensorBoardCallback:
    """Log each epoch of ``fit`` to a ``SummaryWriter``: losses, accuracies, learning rate, histograms.

    Only the main process writes (under ``DistributedDataParallel`` every process runs the
    callback). The writer is flushed after each epoch, so a TensorBoard already open shows the
    epoch as soon as it ends; closing the writer is the caller's job (``with SummaryWriter(...)``).

    Args:
        writer: The ``torch.utils.tensorboard.SummaryWriter`` to log to.
        histograms_every: Log a histogram of every parameter and of its gradient every this many
            epochs (epochs ``N, 2N, ...``); 0 logs none. Histograms cost time and disk on large models.
        log_every_n_steps: Every this many training iterations (steps ``N, 2N, ...``), log the
            mean training loss per sample of those N batches and the learning rate; 0 logs none.
            The losses are summed on the device and read once per N steps (each read waits for
            the device). In a distributed run, the loss is the main process's share of the batches.

    Example:
        >>> with SummaryWriter("runs/baseline") as writer:
        ...     history = fit(model, train_loader, val_loader, loss_fn, optimizer, device, 10,
        ...                   callbacks=[TensorBoardCallback(writer, histograms_every=5, log_every_n_steps=100)])
    """

    def __init__(self, writer: SummaryWriter, histograms_every: int = 0, log_every_n_steps: int = 0) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if not isinstance(writer, SummaryWriter):
            raise TypeError(f"writer must be a torch.utils.tensorboard.SummaryWriter, got {type(writer).__name__}; "
                            "create one with SummaryWriter('runs/<name>')")
        for name, value in (("histograms_every", histograms_every), ("log_every_n_steps", log_every_n_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0 (0: none), got {value!r}")
        self.writer = writer
        self.histograms_every = histograms_every
        self.log_every_n_steps = log_every_n_steps
        self._loss_sum: torch.Tensor | None = None    # the window's loss x batch size, on the device
        self._samples = 0

    def on_batch_end(self, step: int, loss: torch.Tensor, n: int, lr: float) -> None:
        """Add the batch's loss, weighted by its size ``n``, to the window; every N steps log its mean and ``lr``."""
        if not self.log_every_n_steps or not is_main_process():
            return
        weighted = loss.detach().float() * n
        self._loss_sum = weighted if self._loss_sum is None else self._loss_sum + weighted
        self._samples += n
        if step % self.log_every_n_steps == 0:
            self.writer.add_scalar(STEP_TAGS[0], self._loss_sum.item() / self._samples, global_step=step)
            self.writer.add_scalar(STEP_TAGS[1], lr, global_step=step)
            self._loss_sum, self._samples = None, 0

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, float], model: nn.Module) -> None:
        """Write this epoch's scalars (and histograms when due) at ``global_step=epoch``."""
        if not is_main_process():
            return
        for key, tag in SCALAR_TAGS.items():
            if key in metrics:
                self.writer.add_scalar(tag, metrics[key], global_step=epoch)
        if self.histograms_every and epoch % self.histograms_every == 0:
            for name, param in unwrap_model(model).named_parameters():
                self.writer.add_histogram(f"weights/{name}", param.detach().float().cpu(), global_step=epoch)
                if param.grad is not None:
                    self.writer.add_histogram(f"grads/{name}", param.grad.detach().float().cpu(), global_step=epoch)
        self.writer.flush()


def _events(log_dir: str | Path, kind: str) -> Any:
    """TensorBoard's own reader (``EventAccumulator``) over one run folder, loaded, keeping every ``kind`` event."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = Path(log_dir)
    if not any(log_dir.glob("events.out.tfevents.*")):
        raise FileNotFoundError(f"no TensorBoard event file in {log_dir}; was the writer flushed or closed?")
    events = EventAccumulator(str(log_dir), size_guidance={kind: 0})    # 0: no sampling limit
    events.Reload()
    return events


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files of one run folder: ``{tag: [(step, value), ...]}``, by step.

    Nothing is dropped (by default ``EventAccumulator`` keeps a random sample of 10,000 scalars
    per tag, and the TensorBoard server shows 1,000).

    Raises:
        FileNotFoundError: ``log_dir`` holds no event file (a typo, or a writer never flushed).
    """
    events = _events(log_dir, "scalars")
    return {tag: sorted((e.step, e.value) for e in events.Scalars(tag)) for tag in events.Tags()["scalars"]}


def read_histogram_steps(log_dir: str | Path) -> dict[str, list[int]]:
    """The steps at which each histogram tag of one run folder was logged: ``{tag: [step, ...]}``.

    Raises:
        FileNotFoundError: ``log_dir`` holds no event file.
    """
    events = _events(log_dir, "histograms")
    return {tag: sorted(e.step for e in events.Histograms(tag)) for tag in events.Tags()["histograms"]}
