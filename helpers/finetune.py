"""Finetuning tools: partial loads, freezing part of a model (BatchNorm included), per-layer learning rates.

Both are short in plain PyTorch, and notebook 10 writes them by hand first:

- freezing is ``module.requires_grad_(False)`` plus keeping the frozen BatchNorm layers in eval
  mode, which ``model.train()`` undoes at every epoch unless something puts them back;
- per-layer learning rates are optimizer parameter groups, ``[{"params": [...], "lr": ...}, ...]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from helpers.checkpoint import unwrap_model

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm,)
# The hooks freeze() registers, by module: unfreeze() removes them. A weak reference would
# also do; a plain attribute on the module keeps it visible to a reader (`vars(bn)`).
_HOOK_ATTR = "_helpers_frozen_hook"


def _keep_eval(module: nn.Module, args: Any) -> None:
    """A forward pre-hook: a frozen BatchNorm normalises with its running statistics and leaves them alone."""
    module.training = False


def freeze(module: nn.Module) -> nn.Module:
    """Freeze ``module``: no gradients for its parameters, and its BatchNorm layers stay in eval mode.

    ``requires_grad_(False)`` alone is not enough for BatchNorm: in train mode it still normalises
    each batch with the batch's own statistics and overwrites its running mean and variance, so a
    "frozen" backbone drifts. ``model.train()`` (called by every training loop at each epoch)
    switches them back to train mode; a forward pre-hook on each frozen BatchNorm sets it back to
    eval mode right before it runs.

    Args:
        module: The part to freeze, e.g. ``model.stem`` or the whole model before a new head is
            attached (``model.fc = nn.Linear(...)`` after ``freeze(model)`` is trainable).

    Returns:
        ``module``, for chaining.

    Example:
        >>> freeze(backbone)
        >>> backbone.fc = nn.Linear(backbone.fc.in_features, 2)            # new, trainable head
        >>> optimizer = torch.optim.AdamW(trainable_parameters(backbone), lr=1e-3)
    """
    module.requires_grad_(False)
    for layer in module.modules():
        if isinstance(layer, _NORM_TYPES) and not hasattr(layer, _HOOK_ATTR):
            setattr(layer, _HOOK_ATTR, layer.register_forward_pre_hook(_keep_eval))
            layer.eval()
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo ``freeze``: parameters get gradients again and BatchNorm follows ``train()``/``eval()`` again.

    The BatchNorm layers take the mode of ``module`` (``module.training``).
    """
    module.requires_grad_(True)
    for layer in module.modules():
        handle: RemovableHandle | None = getattr(layer, _HOOK_ATTR, None)
        if handle is not None:
            handle.remove()
            delattr(layer, _HOOK_ATTR)
            layer.train(module.training)
    return module


def is_frozen(module: nn.Module) -> bool:
    """Whether no parameter of ``module`` requires a gradient."""
    return not any(p.requires_grad for p in module.parameters())


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that require a gradient: what the optimizer should get after ``freeze``."""
    return [p for p in model.parameters() if p.requires_grad]


def param_groups(model: nn.Module, lrs: Mapping[str, float], **options: Any) -> list[dict[str, Any]]:
    """Optimizer parameter groups with a learning rate per part of the model (discriminative rates).

    Each trainable parameter goes to the group of the longest prefix of its name in ``lrs``
    (``"stages.2"`` wins over ``"stages"``); ``""`` matches every name (a default). Frozen
    parameters are left out.

    Args:
        model: The model whose ``named_parameters()`` are grouped.
        lrs: Name prefix (a module path such as ``"stem"``, ``"stages.0"``, ``"fc"``) to rate.
        **options: Other settings for every group, e.g. ``weight_decay=5e-4``.

    Returns:
        ``[{"params": [...], "lr": ..., "name": prefix, **options}, ...]`` in the order of ``lrs``,
        for ``torch.optim.SGD(groups, ...)`` or any optimizer.

    Raises:
        ValueError: A prefix matches no trainable parameter (a typo, or a frozen part), or a
            trainable parameter matches no prefix (it would silently not be trained).

    Example:
        >>> groups = param_groups(model, {"stem": 1e-4, "stages": 1e-3, "fc": 1e-2}, weight_decay=5e-4)
        >>> optimizer = torch.optim.SGD(groups, lr=1e-3, momentum=0.9)   # lr: the default, unused here
    """
    members: dict[str, list[torch.nn.Parameter]] = {prefix: [] for prefix in lrs}
    unmatched = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        matches = [p for p in lrs if p == "" or name == p or name.startswith(p + ".")]
        if not matches:
            unmatched.append(name)
            continue
        members[max(matches, key=len)].append(param)
    if unmatched:
        raise ValueError(f"trainable parameters match no prefix of lrs: {unmatched[:4]}"
                         f"{' ...' if len(unmatched) > 4 else ''}; add a prefix for them, or '' as a default")
    empty = [prefix for prefix, params in members.items() if not params]
    if empty:
        raise ValueError(f"prefixes of lrs match no trainable parameter: {empty}; check the names with "
                         "[name for name, _ in model.named_parameters()] (frozen parameters are left out)")
    return [{"params": members[prefix], "lr": lr, "name": prefix, **options} for prefix, lr in lrs.items()]


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
    target = unwrap_model(model)
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
