"""The few lines every ``DistributedDataParallel`` script repeats: set-up, tear-down, "am I rank 0?",
summing metrics over processes, and the ``DistributedSampler.set_epoch`` callback.

Notebook 08 writes each of them by hand in ``scripts/ddp_train.py`` first; the calls they wrap
(``init_process_group``, ``all_reduce``, ``set_epoch``) stay visible there.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def setup(backend: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment.

    ``torchrun`` starts one process per device and sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR`` and ``MASTER_PORT`` in each; ``init_process_group`` reads them.

    Args:
        backend: ``"nccl"`` for CUDA GPUs, ``"gloo"`` for CPUs; None picks NCCL when this machine
            has a GPU for every local process, else gloo on the CPUs.

    Returns:
        ``(rank, world_size, device)``: this process's rank, the number of processes, and the
        device it should use (``cuda:LOCAL_RANK`` on a GPU machine, else the CPU).

    Raises:
        RuntimeError: Not started by ``torchrun`` (no ``RANK`` / ``WORLD_SIZE`` in the environment).

    Example:
        >>> rank, world_size, device = setup()
        >>> ...
        >>> cleanup()
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise RuntimeError("no RANK/WORLD_SIZE in the environment: start this script with "
                           "`python -m torch.distributed.run --nproc_per_node=N script.py`")
    local_procs = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    use_cuda = uses_cuda(backend, local_procs)
    backend = backend or ("nccl" if use_cuda else "gloo")
    if use_cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)  # before init: NCCL binds each process to its GPU
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), device


def uses_cuda(backend: str | None, local_procs: int) -> bool:
    """Whether ``setup`` gives each process a GPU: only with NCCL (asked for, or chosen when
    ``backend`` is None) and a GPU for each of the ``local_procs`` processes on this machine;
    otherwise every process uses the CPU with gloo."""
    return (backend in (None, "nccl") and torch.cuda.is_available()
            and torch.cuda.device_count() >= local_procs)


def cleanup() -> None:
    """Leave the process group (``destroy_process_group``), if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True on rank 0, or when no process group is running: where to print and save."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def all_reduce_sums(values: dict[str, float | int | torch.Tensor], device: torch.device | None = None
                    ) -> dict[str, float]:
    """Sum each value over all processes (``all_reduce`` with ``SUM``); unchanged without a group.

    Sum *sums and counts* (total loss, correct predictions, samples) and divide afterwards: the
    average of per-process averages is wrong when processes saw different numbers of samples.

    Args:
        values: Numbers (or scalar tensors) to sum across processes.
        device: Where the reduction runs (the GPU with NCCL); default the CPU.

    Returns:
        The summed values, as Python floats, on every process.

    Example:
        >>> totals = all_reduce_sums({"loss": loss_sum, "correct": correct, "seen": seen})
        >>> accuracy = totals["correct"] / totals["seen"]
    """
    keys = list(values)
    packed = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return dict(zip(keys, packed.tolist(), strict=True))


class SetEpoch:
    """A ``fit`` callback that calls ``sampler.set_epoch(epoch)`` before each epoch.

    ``DistributedSampler`` shuffles with a seed derived from the epoch it is told; without
    ``set_epoch`` every epoch repeats the first epoch's order.

    Args:
        sampler: The ``DistributedSampler`` (or any object with ``set_epoch``).

    Example:
        >>> fit(model, loader, val_loader, ..., callbacks=[SetEpoch(loader.sampler)])
    """

    def __init__(self, sampler: Any) -> None:
        if not callable(getattr(sampler, "set_epoch", None)):
            raise TypeError(f"sampler must have set_epoch(epoch), got {type(sampler).__name__}")
        self.sampler = sampler

    def on_epoch_start(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
