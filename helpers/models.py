"""Models the notebooks reuse: the quickstart's small CNN and a small ResNet.

Both are made for 32x32 RGB images (CIFAR) and also take grayscale or colour images of other
sizes (``in_channels``; at least 8x8 for ``SmallCNN``). Notebook 04 writes both kinds by hand
first; these are the tested versions later notebooks import.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution -> batch norm -> ReLU -> 2x2 max-pool: halves height and width."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


def _check_positive(**values: int) -> None:
    """Refuse sizes that nn.Conv2d / nn.Linear would silently accept and build an empty model from."""
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def _check_images(x: torch.Tensor, in_channels: int, min_size: int, model: str) -> None:
    """Refuse a batch that would otherwise fail deep inside a convolution or matmul."""
    expected = f"(B, {in_channels}, H, W) with H, W >= {min_size}"
    if x.dim() != 4:
        hint = " (one image? add the batch dimension with x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(f"{model} expects images of shape {expected}, got {tuple(x.shape)}{hint}")
    if x.shape[1] != in_channels:
        raise ValueError(f"{model} expects images of shape {expected}, got {tuple(x.shape)}: {x.shape[1]} "
                         f"channels instead of in_channels={in_channels}")
    if x.shape[2] < min_size or x.shape[3] < min_size:
        raise ValueError(f"{model} expects images of shape {expected}, got {tuple(x.shape)}: too small")


class SmallCNN(nn.Module):
    """Three conv blocks and a linear classifier (notebook 00's model, made for 32x32 CIFAR images).

    Each block halves height and width, so a 32x32 image leaves the features as a 4x4 map, which
    is what the classifier expects. Other sizes (at least 8x8) are first pooled to 4x4 by
    ``nn.AdaptiveAvgPool2d(4)``: a 28x28 MNIST digit or a 64x64 photo works with the same weights'
    shapes. For 32x32 inputs that pooling is the identity and is skipped, so the model computes
    exactly ``classifier(features(x))``, as notebook 00 writes it by hand (and still trains under
    ``torch.use_deterministic_algorithms(True)`` on CUDA, where adaptive pooling's backward has no
    deterministic implementation).

    Args:
        num_classes: Number of output logits.
        width: Channels of the first block; the next two have ``2 * width`` and ``4 * width``.
        dropout: Dropout probability before the classifier.
        in_channels: Channels of the input images: 3 for RGB, 1 for grayscale.

    Shapes:
        input: ``(B, in_channels, H, W)`` with ``H, W >= 8``; output: ``(B, num_classes)`` logits.

    Example:
        >>> model = SmallCNN()
        >>> model(torch.zeros(8, 3, 32, 32)).shape
        torch.Size([8, 10])
        >>> SmallCNN(in_channels=1)(torch.zeros(8, 1, 28, 28)).shape
        torch.Size([8, 10])
    """

    min_size = 8  # three 2x2 max-pools: 8x8 is the smallest input that leaves a 1x1 map

    def __init__(self, num_classes: int = 10, width: int = 32, dropout: float = 0.2, in_channels: int = 3) -> None:
        super().__init__()
        _check_positive(num_classes=num_classes, width=width, in_channels=in_channels)
        self.in_channels = in_channels
        self.features = nn.Sequential(
            conv_block(in_channels, width),    # (B, w, H/2, W/2): (B, w, 16, 16) for 32x32 inputs
            conv_block(width, 2 * width),      # (B, 2w, 8, 8)
            conv_block(2 * width, 4 * width),  # (B, 4w, 4, 4)
        )
        # No parameters, so the state_dict keeps its features.* and classifier.* keys.
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(4 * width * 4 * 4, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, in_channels, H, W)
        _check_images(x, self.in_channels, self.min_size, "SmallCNN")
        x = self.features(x)                              # (B, 4w, H/8, W/8)
        # A 4x4 map (32x32 inputs) would pass through the pooling unchanged: skip it, so 32x32 models
        # run exactly the layers they always did (same numbers, same forward hooks).
        if x.shape[-2:] != (4, 4):
            x = self.pool(x)                              # (B, 4w, 4, 4)
        return self.classifier(x)                         # (B, num_classes) logits


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions plus a shortcut: ``relu(f(x) + shortcut(x))``.

    The shortcut is the identity when shapes match, and a strided 1x1 convolution with batch
    norm (a *projection*) when the block changes the channel count or the resolution.

    Args:
        c_in: Input channels.
        c_out: Output channels.
        stride: 2 halves height and width (in the first convolution and the shortcut).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        _check_positive(c_in=c_in, c_out=c_out, stride=stride)
        self.left = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.left(x) + self.shortcut(x))


class CifarResNet(nn.Module):
    """A small ResNet made for 32x32 images: a 3x3 stem, stages of residual blocks, global pooling.

    Each stage after the first halves the resolution and uses the next width. The defaults
    (16-32-64 channels, one block per stage, 78 k parameters) train in seconds per epoch
    on a laptop CPU; ``widths=(16, 32, 64), blocks=(3, 3, 3)`` is the ResNet-20 of He et al.

    Args:
        num_classes: Number of output logits.
        widths: Channels of each stage.
        blocks: Residual blocks per stage, each >= 1.
        in_channels: Channels of the input images: 3 for RGB, 1 for grayscale.

    Shapes:
        input: ``(B, in_channels, H, W)``, any ``H, W >= 1`` (the global pooling makes the output
        independent of the size); output: ``(B, num_classes)`` logits.

    Example:
        >>> CifarResNet()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
        >>> CifarResNet(in_channels=1)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        num_classes: int = 10,
        widths: Sequence[int] = (16, 32, 64),
        blocks: Sequence[int] = (1, 1, 1),
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if len(widths) != len(blocks) or not widths:
            raise ValueError(f"widths and blocks need one entry per stage, got {list(widths)} and {list(blocks)}")
        # A 0 in blocks would still build one block per stage (the first is always made), silently.
        _check_positive(num_classes=num_classes, in_channels=in_channels,
                        **{f"widths[{i}]": w for i, w in enumerate(widths)},
                        **{f"blocks[{i}]": n for i, n in enumerate(blocks)})
        self.in_channels = in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages = []
        c_in = widths[0]
        for i, (width, n) in enumerate(zip(widths, blocks, strict=True)):
            stages.append(self._make_stage(c_in, width, n, stride=1 if i == 0 else 2))
            c_in = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)  # any input size -> (B, C, 1, 1)
        self.fc = nn.Linear(c_in, num_classes)

    @staticmethod
    def _make_stage(c_in: int, c_out: int, n: int, stride: int) -> nn.Sequential:
        layers = [ResidualBlock(c_in, c_out, stride)]
        layers += [ResidualBlock(c_out, c_out) for _ in range(n - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, in_channels, H, W)
        _check_images(x, self.in_channels, 1, "CifarResNet")
        x = self.stages(self.stem(x))                      # (B, widths[-1], H / 2^(S-1), W / 2^(S-1))
        return self.fc(torch.flatten(self.pool(x), 1))     # (B, num_classes)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements, optionally only those with ``requires_grad``.

    Example:
        >>> count_parameters(nn.Linear(10, 2))
        22
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
