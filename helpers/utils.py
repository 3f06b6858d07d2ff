"""Reproducibility and device selection."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

#: Environment variable that overrides :func:`get_device` (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
#: The test command sets it to ``cpu`` so stored notebook outputs compare on any machine.
DEVICE_ENV_VAR = "HELPERS_DEVICE"


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (every device) in one call.

    This makes a re-run give the same numbers on the same machine and software. It does not
    make GPU kernels deterministic; see ``torch.use_deterministic_algorithms`` for that.

    Args:
        seed: The seed for all three generators.

    Example:
        >>> set_seed(0)
        >>> a = torch.rand(2)
        >>> set_seed(0)
        >>> torch.equal(a, torch.rand(2))
        True
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every CUDA device


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then the CPU.

    The environment variable ``HELPERS_DEVICE`` overrides the choice, e.g. ``HELPERS_DEVICE=cpu``.

    Returns:
        The ``torch.device`` to move models and tensors to.

    Raises:
        ValueError: If ``HELPERS_DEVICE`` names a device that PyTorch cannot parse.
        RuntimeError: If ``HELPERS_DEVICE`` names a device this machine does not have.

    Example:
        >>> device = get_device()
        >>> x = torch.zeros(3, device=device)
    """
    forced = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if forced:
        try:
            device = torch.device(forced)
        except RuntimeError as e:
            raise ValueError(f"{DEVICE_ENV_VAR}={forced!r} is not a device name ({e})") from e
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }
        if not available.get(device.type, False):
            raise RuntimeError(f"{DEVICE_ENV_VAR}={forced!r}, but this machine has no {device.type} device")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
