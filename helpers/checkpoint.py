"""Training checkpoints: a dict of state_dicts plus epoch, history, config and RNG states, written
atomically and read with ``weights_only=True`` (groundwork for notebook 09).

A checkpoint written here loads with ``torch.load(path, weights_only=True)``: it holds only
tensors, numbers, strings, lists and dicts. Random-number states are stored as tensors for that
reason (Python's ``random`` state becomes a list of ints).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
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
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _unwrap(model)
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

    ``CheckpointCallback`` writes ``last.pt`` once and copies it to ``best.pt`` and ``epoch-NNN.pt``.
    """
    data = Path(source).read_bytes()
    target = Path(target)
    _write_atomically(target, lambda f: f.write(data))
    return target


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then ``os.replace`` it onto ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")    # same folder: os.replace cannot cross file systems
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())                        # on disk before the rename makes it visible
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, scaler: torch.amp.GradScaler | None = None,
                    map_location: str | torch.device = "cpu", restore_rng: bool = True) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` into the given objects, safely.

    Args:
        path: The checkpoint file.
        model, optimizer, scheduler, scaler: Filled from the checkpoint's state_dicts (those given).
        map_location: Where tensors are loaded (``"cpu"`` reads a GPU checkpoint on any machine).
        restore_rng: Also restore the random generators, for a bit-exact resume.

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
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, wrong magic number, a pickle weights_only refuses...
        raise DataError(f"cannot read {path} as a checkpoint (truncated, corrupt, or not a torch file): {e}") from e
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        what = "a bare state_dict" if isinstance(checkpoint, dict) and all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()) else f"a {type(checkpoint).__name__}"
        raise DataError(f"{path} is {what}, not a checkpoint written by helpers.checkpoint.save_checkpoint; "
                        "load a bare state_dict with model.load_state_dict(torch.load(path, weights_only=True))")
    target = _unwrap(model)
    _check_compatible(path, target.state_dict(), checkpoint["model"])
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


@dataclass
class MatchReport:
    """What ``load_matching_weights`` did: which keys it loaded and which it left, and why."""

    loaded: list[str] = field(default_factory=list)
    #: Keys in both, with different shapes: ``"fc.weight: checkpoint (8, 512) vs model (2, 512)"``.
    shape_mismatch: list[str] = field(default_factory=list)
    #: The model's keys the state_dict lacks: they keep their current (e.g. freshly initialised) values.
    missing: list[str] = field(default_factory=list)
    #: The state_dict's keys the model lacks.
    unexpected: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        for name, keys in (("shapes differ", self.shape_mismatch), ("missing from the state_dict", self.missing),
                           ("not in the model", self.unexpected)):
            if keys:
                lines.append(f"{name} ({len(keys)}): " + ", ".join(keys[:4]) + (" ..." if len(keys) > 4 else ""))
        return "\n".join(lines)


def load_matching_weights(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> MatchReport:
    """Load the tensors whose name and shape match the model's, and report the rest (a partial load).

    This is the older tutorials' partial load for finetuning: a backbone's weights go into a model
    with a new head, and the head (different shape) keeps its initialisation. It is
    ``model.load_state_dict(matching, strict=False)`` with the matching part picked first; unlike
    ``strict=False`` alone, a tensor whose shape differs is reported instead of raising.

    Args:
        model: Filled in place (unwrapped from DataParallel/DDP/``torch.compile`` first).
        state_dict: E.g. ``torch.load(path, weights_only=True)`` or a checkpoint's ``["model"]``.

    Returns:
        A ``MatchReport``; ``print(report)`` lists what was left out. Check ``report.loaded`` is
        not empty: a state_dict with another key prefix (``module.``) matches nothing.

    Example:
        >>> report = load_matching_weights(finetune_model, torch.load(path, weights_only=True))
        >>> print(report)          # loaded 60 tensors / shapes differ (2): fc.weight: ...
    """
    target = _unwrap(model)
    own = target.state_dict()
    report = MatchReport()
    matching = {}
    for key, value in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
        elif value.shape != own[key].shape:
            report.shape_mismatch.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(own[key].shape)}")
        else:
            matching[key] = value
            report.loaded.append(key)
    report.missing = [key for key in own if key not in matching and key not in state_dict]
    target.load_state_dict(matching, strict=False)
    return report


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DataParallel / DistributedDataParallel (``.module``) and ``torch.compile``
    (``._orig_mod``), so that checkpoints hold the plain model's keys."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


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
