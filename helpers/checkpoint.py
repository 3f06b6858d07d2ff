"""Training checkpoints: a dict of state_dicts plus epoch, history, config and RNG states, written
atomically and read with ``weights_only=True`` (groundwork for notebook 09).

A checkpoint written here loads with ``torch.load(path, weights_only=True)``: it holds only
tensors, numbers, strings, lists and dicts. Random-number states are stored as tensors for that
reason (Python's ``random`` state becomes a list of ints).
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np
import torch
from torch import nn

from helpers.files import DataError

#: Marks a file as a checkpoint of this format (a bare state_dict, or another project's dict, lacks it).
FORMAT = "helpers.checkpoint/1"


def rng_state() -> dict[str, Any]:
    """The state of every random generator a training run draws from, storable with ``weights_only=True``."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    keys = np.asarray(keys)                                           # (624,) uint32 Mersenne-Twister keys
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned: the next random numbers are the ones that would have come."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"].cpu())      # CPU byte tensors, whatever map_location did
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, scaler: torch.amp.GradScaler | None = None, epoch: int = 0,
                    history: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> Path:
    """Write a training checkpoint atomically: to a temporary file in the same folder, then ``os.replace``.

    A crash mid-write leaves the previous checkpoint whole (``os.replace`` is atomic on one file
    system), and the temporary file is removed if saving fails.

    Args:
        path: Where to write, e.g. ``checkpoints/last.pt``.
        model: Its ``state_dict`` is saved (unwrapped: DataParallel/DDP's ``module.`` and
            ``torch.compile``'s ``_orig_mod.`` are not written).
        optimizer, scheduler, scaler: Their ``state_dict``s, if given.
        epoch: The last finished epoch.
        history: ``fit``'s history, to resume with ``fit(..., history=...)``.
        config: Plain values describing the run (learning rate, batch size, ...).

    Returns:
        The path written.
    """
    path = Path(path)
    _check_plain(config or {}, "config")
    _check_plain(history or {}, "history")
    path.parent.mkdir(parents=True, exist_ok=True)
    model = unwrap_model(model)
    checkpoint = {
        "format": FORMAT, "epoch": epoch, "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "history": history, "config": config or {}, "rng": rng_state(),
    }
    _write_atomically(path, lambda f: torch.save(checkpoint, f))
    return path


def copy_atomically(source: str | Path, target: str | Path) -> Path:
    """Copy a file so that ``target`` is, at every moment, either its old self or a whole copy.

    ``CheckpointCallback`` writes ``last.pt`` once and copies it to ``best.pt`` and ``epoch-NNN.pt``:
    as a hard link where the file system has them (no bytes copied), else as bytes, atomically.
    """
    source, target = Path(source), Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)        # free: save_checkpoint always writes a new file, so no later write changes it
    except OSError:                 # a file system without hard links: copy the bytes
        _write_atomically(target, lambda f: f.write(source.read_bytes()))
        return target
    os.replace(tmp, target)
    _fsync_folder(target.parent)
    return target


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then ``os.replace`` it onto ``path``."""
    # Same folder: os.replace cannot cross file systems. A fixed name (one writer per checkpoint)
    # means a temporary file left by a killed run is overwritten by the next save, not piled up.
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())                        # on disk before the rename makes it visible
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: the folder's entry is data too); a no-op on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, scaler: torch.amp.GradScaler | None = None,
                    map_location: str | torch.device = "cpu", restore_rng: bool = True,
                    mmap: bool = False) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` into the given objects, safely.

    Args:
        path: The checkpoint file.
        model, optimizer, scheduler, scaler: Filled from the checkpoint's state_dicts (those given).
        map_location: Where tensors are loaded (``"cpu"`` reads a GPU checkpoint on any machine).
        restore_rng: Also restore the random generators, for a bit-exact resume.
        mmap: Map the file instead of reading it (``torch.load(..., mmap=True)``), for large files.

    Returns:
        The checkpoint dict (``epoch``, ``history``, ``config``, ...).

    Raises:
        DataError: The file is missing, truncated or corrupt, is not a checkpoint of this format,
            or holds another architecture (the message lists mismatched keys and shapes).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise DataError(f"{path} holds Python objects that weights_only=True refuses to load (loading them "
                        "could run code). If you wrote the file yourself, see notebook 09: allow its types with "
                        f"torch.serialization.safe_globals, or re-save plain values. {e}") from e
    except Exception as e:  # truncated zip, wrong magic number...
        raise DataError(f"cannot read {path} as a checkpoint (truncated, corrupt, or not a torch file): {e}") from e
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        what = "a bare state_dict" if isinstance(checkpoint, dict) and all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()) else f"a {type(checkpoint).__name__}"
        raise DataError(f"{path} is {what}, not a checkpoint written by helpers.checkpoint.save_checkpoint; "
                        "load a bare state_dict with model.load_state_dict(torch.load(path, weights_only=True))")
    target = unwrap_model(model)
    _check_compatible(path, target.state_dict(), checkpoint["model"])
    if optimizer is not None and checkpoint["optimizer"] is not None:
        _check_optimizer(path, optimizer, checkpoint["optimizer"])     # before anything is overwritten
    target.load_state_dict(checkpoint["model"])
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if obj is None:
            continue
        if checkpoint[name] is None:
            raise DataError(f"{path} holds no {name} state, but a {name} was given to load it into")
        try:
            obj.load_state_dict(checkpoint[name])
        except (ValueError, KeyError, RuntimeError) as e:
            raise DataError(f"{path}: the {name} state does not fit this {name} ({e}); was it built over "
                            "the same parameters, in the same order?") from e
    if restore_rng:
        set_rng_state(checkpoint["rng"])
    return checkpoint


_PLAIN = (str, int, float, bool, type(None))


def _check_plain(value: Any, where: str) -> None:
    """Refuse, before writing, a value that ``torch.load(..., weights_only=True)`` would refuse to read back:
    anything but tensors, plain numbers, strings, None, lists, tuples and dicts. Subclasses count as other
    types (``torch.__version__``, a NumPy float, a ``Path``): convert them with ``str()`` or ``float()``."""
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN:
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif type(value) is dict:
        for key, item in value.items():
            _check_plain(key, f"{where} key {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
    else:
        raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which "
                        "torch.load(..., weights_only=True) would refuse to load; store a plain value "
                        "(str(...), float(...), a dict or list of them) instead")


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DataParallel / DistributedDataParallel (``.module``) and ``torch.compile``
    (``._orig_mod``), so that checkpoints hold the plain model's keys. Only those wrappers: a model
    of your own with a child named ``module`` is not one."""
    from torch._dynamo.eval_frame import OptimizedModule

    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif isinstance(model, OptimizedModule):
            model = model._orig_mod
        else:
            return model


def _check_optimizer(path: Path, optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Refuse an optimizer state built over other parameters: group sizes, and each state tensor's shape."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    sizes = [len(group["params"]) for group in optimizer.param_groups]
    saved_sizes = [len(group["params"]) for group in saved["param_groups"]]
    problem = None
    if sizes != saved_sizes:
        problem = f"parameter groups of sizes {saved_sizes} in the file, {sizes} here"
    else:
        for index, state in saved["state"].items():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != params[index].shape:
                    problem = (f"state {key!r} of parameter {index} has shape {tuple(value.shape)}, "
                               f"the parameter {tuple(params[index].shape)}")
                    break
            if problem:
                break
    if problem:
        raise DataError(f"{path}: the optimizer state does not fit this optimizer ({problem}); build it over "
                        "model.parameters() in the same order as when it was saved. Nothing was loaded.")


def _check_compatible(path: Path, expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> None:
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(found[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in found and found[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}{' ...' if len(unexpected) > 3 else ''}")
        if shapes:
            parts.append("shapes differ: " + "; ".join(shapes[:3]))
        raise DataError(f"{path} holds another architecture than this model: " + " | ".join(parts))
