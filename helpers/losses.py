"""Loss functions the notebooks write themselves."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


class FocalLoss(nn.Module):
    """Multi-class focal loss (Lin et al., 2017): cross-entropy that down-weights easy examples.

    ``loss_i = -alpha[y_i] * (1 - p_i) ** gamma * log(p_i)``, where ``p_i`` is the predicted
    probability of sample ``i``'s true class. With ``gamma=0`` and no ``alpha`` it equals
    ``nn.CrossEntropyLoss``; larger ``gamma`` shrinks the loss of well-classified samples
    (``p_i`` near 1), so training concentrates on the hard ones.

    Args:
        gamma: Focusing parameter, >= 0.
        alpha: Optional per-class weights, shape ``(C,)``.
        reduction: ``"mean"`` (weighted by ``alpha`` like ``CrossEntropyLoss``), ``"sum"`` or ``"none"``.

    Shapes:
        input: ``(N, C)`` logits; target: ``(N,)`` int64 class indices; output: scalar, or
        ``(N,)`` with ``reduction="none"``.

    Example:
        >>> loss_fn = FocalLoss(gamma=2.0)
        >>> loss = loss_fn(torch.randn(8, 10), torch.randint(0, 10, (8,)))
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: torch.Tensor | None = None,
        reduction: Literal["mean", "sum", "none"] = "mean",
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.gamma = gamma
        self.reduction = reduction
        self.alpha: torch.Tensor | None
        self.register_buffer("alpha", None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.dim() != 2 or target.dim() != 1 or input.shape[0] != target.shape[0]:
            raise ValueError(f"FocalLoss expects (N, C) logits and (N,) targets, got {tuple(input.shape)} and {tuple(target.shape)}")
        if target.dtype != torch.int64:
            raise TypeError(f"FocalLoss targets must be int64 class indices, got {target.dtype}")
        log_p = F.log_softmax(input, dim=1).gather(1, target[:, None]).squeeze(1)  # (N,) log p of the true class
        loss = -((1 - log_p.exp()) ** self.gamma) * log_p
        weight = torch.ones_like(loss) if self.alpha is None else self.alpha.to(loss.device)[target]
        loss = loss * weight
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / weight.sum()
