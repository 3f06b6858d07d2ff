"""Custom transforms the notebooks write (02) and use (later notebooks).

Both follow ``torchvision.transforms.v2``: they accept PIL images, plain tensors and
``tv_tensors.Image`` of shape ``(..., C, H, W)``, and leave other inputs (labels) untouched.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F


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
        return self._call_kernel(F.pad, inpt, padding=params["padding"], fill=self.fill,
                                 padding_mode=self.padding_mode)


class AddGaussianNoise:
    """Add Gaussian noise to a float image tensor, the plain-``__call__`` way.

    The simplest custom transform is any callable; no base class is needed. Values are clamped
    to ``[0, 1]`` afterwards, so apply it before ``Normalize``.

    Args:
        std: Standard deviation of the noise, in units of the ``[0, 1]`` pixel range.
        generator: Optional ``torch.Generator`` for repeatable noise.

    Example:
        >>> noisy = AddGaussianNoise(0.1)(torch.full((3, 4, 4), 0.5))
    """

    def __init__(self, std: float = 0.05, generator: torch.Generator | None = None) -> None:
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std = std
        self.generator = generator

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if not isinstance(image, torch.Tensor) or not image.is_floating_point():
            raise TypeError(
                f"AddGaussianNoise needs a float image tensor, got {type(image).__name__}"
                f"{'' if not isinstance(image, torch.Tensor) else ' of dtype ' + str(image.dtype)}; "
                "put it after v2.ToDtype(torch.float32, scale=True)"
            )
        noise = torch.randn(image.shape, generator=self.generator, dtype=image.dtype, device=image.device)
        return (image + noise * self.std).clamp(0, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(std={self.std})"


class BatchAugment:
    """A ``collate_fn`` that stacks ``uint8`` images and augments the whole batch at once.

    For small images already decoded into memory (CIFAR), augmenting a batch in a few tensor
    operations is much cheaper than running a transform pipeline per image. Per image, with
    independent random draws: a random crop of the original size from the image padded by
    ``crop_padding`` pixels (reflect), and a horizontal flip with probability 0.5. Then conversion
    to float in ``[0, 1]`` and normalisation.

    Args:
        mean: Per-channel means for ``Normalize``.
        std: Per-channel standard deviations.
        crop_padding: Padding for the random crop; 0 disables cropping.
        flip: Random horizontal flips.
        generator: Optional ``torch.Generator`` for repeatable draws (else the global one).
        channels_last: Return the batch in ``torch.channels_last`` memory format (NHWC), which
            CPU and GPU convolution kernels often run faster on; pair it with
            ``model.to(memory_format=torch.channels_last)``.

    Returns (when called on a list of ``(uint8 (C, H, W), label)`` samples):
        ``(float32 (B, C, H, W), int64 (B,))``.

    Example:
        >>> train_loader = DataLoader(TensorDataset(images_uint8, labels), batch_size=128, shuffle=True,
        ...                           collate_fn=BatchAugment(MEAN, STD, crop_padding=4, flip=True))
    """

    def __init__(
        self,
        mean: tuple[float, ...] | list[float],
        std: tuple[float, ...] | list[float],
        crop_padding: int = 0,
        flip: bool = False,
        generator: torch.Generator | None = None,
        channels_last: bool = False,
    ) -> None:
        if crop_padding < 0:
            raise ValueError(f"crop_padding must be >= 0, got {crop_padding}")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.crop_padding = crop_padding
        self.flip = flip
        self.generator = generator
        self.channels_last = channels_last
        self.channels_last = channels_last

    def __call__(self, samples: list[tuple[torch.Tensor, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.stack([image for image, _ in samples])                 # (B, C, H, W) uint8
        labels = torch.as_tensor([int(label) for _, label in samples], dtype=torch.int64)
        if images.dtype != torch.uint8:
            raise TypeError(f"BatchAugment expects uint8 images, got {images.dtype}")
        x = images.float().div_(255)
        b, _, h, w = x.shape
        if self.crop_padding:
            p = self.crop_padding
            padded = torch.nn.functional.pad(x, (p, p, p, p), mode="reflect")  # (B, C, H + 2p, W + 2p)
            offsets = torch.randint(0, 2 * p + 1, (b, 2), generator=self.generator)
            x = torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])
        if self.flip:
            flips = torch.rand(b, generator=self.generator) < 0.5
            x = torch.where(flips.view(b, 1, 1, 1), x.flip(-1), x)
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)  # same values, NHWC strides
        return x, labels

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(crop_padding={self.crop_padding}, flip={self.flip}, "
                f"channels_last={self.channels_last})")
