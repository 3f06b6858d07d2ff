"""A small model for the checks: it records, at each forward pass, its mode and whether gradients were on."""

from __future__ import annotations

import torch
from torch import nn


class ModeProbe(nn.Module):
    """``Linear -> BatchNorm1d -> Linear``, whose running mean is far from any batch's mean.

    Train mode and eval mode therefore give different outputs, so a check can tell which one ran,
    and ``calls`` lists ``(training, grad_enabled)`` for every forward pass.

    Args:
        hidden: Width of the hidden layer.
        running_mean: Value of the batch norm's running mean.
    """

    def __init__(self, hidden: int = 8, running_mean: float = 1.5) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.first, self.norm, self.last = nn.Linear(4, hidden), nn.BatchNorm1d(hidden), nn.Linear(hidden, 3)
        self.norm.running_mean = torch.full((hidden,), running_mean)
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, 4) -> (N, 3) logits
        self.calls.append((self.training, torch.is_grad_enabled()))
        return self.last(self.norm(self.first(x)))
