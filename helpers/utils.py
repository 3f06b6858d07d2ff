"""Reproducibility and device selection."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch.utils.data import get_worker_info

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


def check_device(device: str | torch.device, name: str = "device") -> torch.device:
    """Turn ``device`` into a ``torch.device`` that exists on this machine, or say why not.

    Accepts what a learner naturally writes (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a
    ``torch.device``) and refuses, with the argument's ``name`` in the message, a name PyTorch
    cannot parse, a device type this machine lacks, or a CUDA index beyond the GPUs present.

    Args:
        device: The device, as a string or ``torch.device``.
        name: How the caller calls this argument, for the error message.

    Returns:
        The ``torch.device``.

    Raises:
        ValueError: The device is not a device name, or it is not on this machine.

    Example:
        >>> check_device("cpu")
        device(type='cpu')
    """
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name} must be a torch.device or a string such as 'cpu' or 'cuda', "
                        f"got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"{name}={str(device)!r} is not a device name ({e})") from e
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name}={str(device)!r}, but this machine has no CUDA GPU; use 'cpu' "
                             "(or helpers.utils.get_device(), which picks what is there)")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{name}={str(device)!r}, but this machine has {count} CUDA GPU(s): "
                             f"cuda:0 to cuda:{count - 1}")
        return dev
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{name}={str(device)!r}, but Apple's MPS backend is not available here; use 'cpu'")
        return dev
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    if accelerator is None or accelerator.type != dev.type:
        raise ValueError(f"{name}={str(device)!r}: this machine has no {dev.type} device")
    return dev


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then the CPU.

    The environment variable ``HELPERS_DEVICE`` overrides the choice, e.g. ``HELPERS_DEVICE=cpu``
    or ``HELPERS_DEVICE=cuda:1``; it is checked with :func:`check_device`.

    Returns:
        The ``torch.device`` to move models and tensors to.

    Raises:
        ValueError: If ``HELPERS_DEVICE`` is not a device name, or names a device (or a CUDA
            index) this machine does not have.

    Example:
        >>> device = get_device()
        >>> x = torch.zeros(3, device=device)
    """
    forced = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if forced:
        return check_device(forced, name=DEVICE_ENV_VAR)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class PerWorkerGenerator:
    """A seeded ``torch.Generator`` that gives each ``DataLoader`` worker, each epoch, its own stream.

    A generator stored on a transform or ``collate_fn`` is copied into every worker process with
    the same state, so every worker would draw the same "random" numbers, and again every epoch
    (workers are recreated unless ``persistent_workers=True``). In a worker, ``get()`` returns a
    generator seeded from one draw of the copied generator and the worker's seed (which the
    ``DataLoader`` derives from its own ``generator`` each epoch): different per worker and per
    epoch, yet repeatable when the loader is seeded. In the main process it returns the
    generator itself.

    Args:
        generator: The seeded generator, or None to use the global one (which PyTorch already
            seeds per worker).

    Example:
        >>> self.generator = PerWorkerGenerator(generator)      # in __init__
        >>> torch.rand(4, generator=self.generator.get())       # in __call__
    """

    def __init__(self, generator: torch.Generator | None) -> None:
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.base = generator
        self._worker_seed: int | None = None
        self._worker_generator: torch.Generator | None = None

    def __getstate__(self) -> dict[str, object]:
        # Pickle the generator's state as plain bytes: a torch.Generator pickles its state as a
        # tensor, which DataLoader's spawn workers (macOS, Windows) try to move through shared
        # memory, and fail ("unable to resize file").
        state = dict(self.__dict__)
        for key in ("base", "_worker_generator"):
            gen = state[key]
            state[key] = None if gen is None else bytes(gen.get_state().numpy().tobytes())
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for key in ("base", "_worker_generator"):
            raw = state[key]
            if isinstance(raw, bytes):
                gen = torch.Generator()
                gen.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
                state[key] = gen
        self.__dict__.update(state)

    def get(self) -> torch.Generator | None:
        """The generator to draw from in the current process."""
        info = get_worker_info()
        if self.base is None or info is None:
            return self.base
        if self._worker_seed != info.seed:  # first draw in this worker (this epoch)
            draw = int(torch.randint(0, 2**62, (1,), generator=self.base))
            self._worker_generator = torch.Generator().manual_seed((draw ^ info.seed) % 2**63)
            self._worker_seed = info.seed
        return self._worker_generator
