"""Models the notebooks reuse: the quickstart's small CNN and a small ResNet for 32x32 images.

Notebook 04 writes both kinds by hand first; these are the tested versions later notebooks
import.
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


class SmallCNN(nn.Module):
    """Three conv blocks and a linear classifier, for 32x32 RGB images (notebook 00's model).

    Args:
        num_classes: Number of output logits.
        width: Channels of the first block; the next two have ``2 * width`` and ``4 * width``.
        dropout: Dropout probability before the classifier.

    Example:
        >>> model = SmallCNN()
        >>> model(torch.zeros(8, 3, 32, 32)).shape
        torch.Size([8, 10])
    """

    def __init__(self, num_classes: int = 10, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_block(3, width),              # (B, w, 16, 16)
            conv_block(width, 2 * width),      # (B, 2w, 8, 8)
            conv_block(2 * width, 4 * width),  # (B, 4w, 4, 4)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(4 * width * 4 * 4, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, 32, 32)
        return self.classifier(self.features(x))  # (B, num_classes) logits


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
    """A small ResNet for 32x32 images: a 3x3 stem, stages of residual blocks, global pooling.

    Each stage after the first halves the resolution and uses the next width. The defaults
    (16-32-64 channels, one block per stage, 78 k parameters) train in seconds per epoch
    on a laptop CPU; ``widths=(16, 32, 64), blocks=(3, 3, 3)`` is the ResNet-20 of He et al.

    Args:
        num_classes: Number of output logits.
        widths: Channels of each stage.
        blocks: Residual blocks per stage.

    Example:
        >>> CifarResNet()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64), blocks: Sequence[int] = (1, 1, 1)
    ) -> None:
        super().__init__()
        if len(widths) != len(blocks) or not widths:
            raise ValueError(f"widths and blocks need one entry per stage, got {list(widths)} and {list(blocks)}")
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        stages = []
        c_in = widths[0]
        for i, (width, n) in enumerate(zip(widths, blocks)):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, H, W)
        x = self.stages(self.stem(x))                      # (B, widths[-1], H / 2^(S-1), W / 2^(S-1))
        return self.fc(torch.flatten(self.pool(x), 1))     # (B, num_classes)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements, optionally only those with ``requires_grad``.

    Example:
        >>> count_parameters(nn.Linear(10, 2))
        22
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
