"""Loss functions the notebooks write themselves."""

from __future__ import annotations

from collections.abc import Sequence
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
        ignore_index: Targets with this value add nothing to the loss, and the mean is taken over
            the other samples, as in ``nn.CrossEntropyLoss`` (so a batch in which every target is
            ignored gives NaN, as it does there). With ``reduction="none"`` they get a loss of 0.

    Shapes:
        input: ``(N, C)`` logits; target: ``(N,)`` int64 class indices in ``[0, C)`` (or
        ``ignore_index``); output: scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> loss_fn = FocalLoss(gamma=2.0)
        >>> loss = loss_fn(torch.randn(8, 10), torch.randint(0, 10, (8,)))
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: torch.Tensor | Sequence[float] | None = None,
        reduction: Literal["mean", "sum", "none"] = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__()
        if not gamma >= 0:  # also refuses NaN, which `gamma < 0` lets through
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        weights = None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32)
        if weights is not None and weights.dim() != 1:
            raise ValueError(f"alpha must hold one weight per class, shape (C,), got shape {tuple(weights.shape)}")
        self.gamma = gamma
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.alpha: torch.Tensor | None
        self.register_buffer("alpha", weights)

    def _check(self, input: torch.Tensor, target: torch.Tensor) -> None:
        """Refuse, with the argument named, what would otherwise fail deep inside ``gather``."""
        if input.dim() != 2 or target.dim() != 1 or input.shape[0] != target.shape[0]:
            raise ValueError(f"FocalLoss expects (N, C) logits and (N,) targets, "
                             f"got {tuple(input.shape)} and {tuple(target.shape)}")
        if not input.is_floating_point():
            raise TypeError(f"FocalLoss logits must be floating point, got {input.dtype}")
        if target.dtype != torch.int64:
            raise TypeError(f"FocalLoss targets must be int64 class indices, got {target.dtype}")
        num_classes = input.shape[1]
        if self.alpha is not None and len(self.alpha) != num_classes:
            raise ValueError(f"alpha has {len(self.alpha)} weights but the logits have {num_classes} classes (C)")
        if target.device.type != "cpu":  # checking values on a GPU would make the CPU wait for it every batch;
            return                         # there an out-of-range target stops with a device-side assert instead
        bad = (target != self.ignore_index) & ((target < 0) | (target >= num_classes))
        if bad.any():
            raise ValueError(f"target holds {int(target[bad][0])}, outside [0, {num_classes}) "
                             f"and not ignore_index ({self.ignore_index})")

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check(input, target)
        keep = target != self.ignore_index                                   # (N,) samples that count
        safe = target.masked_fill(~keep, 0)                                  # any valid index for gather
        log_p = F.log_softmax(input, dim=1).gather(1, safe[:, None]).squeeze(1)  # (N,) log p of the true class
        # 1 - p as -expm1(log p) is exact near p = 1; the clamp keeps 0 out of the power, where the
        # derivative of x ** gamma is infinite for gamma < 1 (NaN gradients for confident samples).
        one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
        loss = -(one_minus_p**self.gamma) * log_p
        weight = keep.to(loss.dtype) if self.alpha is None else self.alpha.to(loss.device)[safe] * keep
        loss = loss * weight
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / weight.sum()
