"""Custom transforms the notebooks write (02) and use (later notebooks).

Both follow ``torchvision.transforms.v2``: they accept PIL images, plain tensors and
``tv_tensors.Image`` of shape ``(..., C, H, W)``, and leave other inputs (labels) untouched.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from helpers.utils import PerWorkerGenerator


class SquarePad(v2.Transform):
    """Pad an image to a square, centred, so that a later ``Resize`` keeps its aspect ratio.

    ``Resize((224, 224))`` stretches a 3:2 photo; ``SquarePad()`` followed by ``Resize(224)`` does
    not. Deterministic: it has no random parameters.

    Args:
        fill: Pixel value of the padding.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``, as in ``v2.Pad``.

    Example:
        >>> pad = SquarePad()
        >>> pad(torch.zeros(3, 20, 30)).shape
        torch.Size([3, 30, 30])
    """

    def __init__(self, fill: float = 0, padding_mode: str = "constant") -> None:
        super().__init__()
        self.fill = fill
        self.padding_mode = padding_mode

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        # One padding for every image in the sample (image and mask stay aligned).
        height, width = v2.query_size(flat_inputs)
        side = max(height, width)
        left, top = (side - width) // 2, (side - height) // 2
        return {"padding": [left, top, side - width - left, side - height - top]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        # F.pad dispatches on the input's type (PIL image, tensor, tv_tensors.Image, Mask...).
        return F.pad(inpt, padding=params["padding"], fill=self.fill, padding_mode=self.padding_mode)


class AddGaussianNoise:
    """Add Gaussian noise to a float image tensor, the plain-``__call__`` way.

    The simplest custom transform is any callable; no base class is needed. Values are clamped
    to ``[0, 1]`` afterwards, so apply it before ``Normalize``.

    Args:
        std: Standard deviation of the noise, in units of the ``[0, 1]`` pixel range.
        generator: Optional seeded ``torch.Generator`` for repeatable noise. In ``DataLoader``
            workers each worker derives its own stream from it and the worker's seed (see
            ``helpers.utils.PerWorkerGenerator``), so workers and epochs do not repeat the noise.

    Example:
        >>> noisy = AddGaussianNoise(0.1)(torch.full((3, 4, 4), 0.5))
    """

    def __init__(self, std: float = 0.05, generator: torch.Generator | None = None) -> None:
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std = std
        self.generator = PerWorkerGenerator(generator)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if not isinstance(image, torch.Tensor) or not image.is_floating_point():
            raise TypeError(
                f"AddGaussianNoise needs a float image tensor, got {type(image).__name__}"
                f"{'' if not isinstance(image, torch.Tensor) else ' of dtype ' + str(image.dtype)}; "
                "put it after v2.ToDtype(torch.float32, scale=True)"
            )
        noise = torch.randn(image.shape, generator=self.generator.get(), dtype=image.dtype, device=image.device)
        return (image + noise * self.std).clamp(0, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(std={self.std})"
