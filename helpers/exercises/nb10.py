"""Checks for notebook 10 (finetuning): a new head, a frozen backbone trained properly, the weights' preprocessing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import ResNet18_Weights, resnet18
from torchvision.models.mobilenetv3 import mobilenet_v3_small

from helpers.exercises.core import Hint, call, exercise, expect


@exercise("10.1")
def replace_head(answer: Any) -> str:
    """``replace_head(model, num_classes) -> model``: a new last layer for a ResNet (``fc``) or a MobileNet."""
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for make in (resnet18, mobilenet_v3_small):
        torch.manual_seed(0)
        model = make(weights=None).eval()
        first = next(model.parameters()).detach().clone()
        got = call(answer, model, 5, hints=[("cannot be multiplied", "keep the head's other layers: replace only "
                   "the last `nn.Linear` (for MobileNet, `model.classifier[-1]`), with its `in_features`.")])
        expect(isinstance(got, nn.Module), f"return the model, not {type(got).__name__}")
        with torch.no_grad():
            out = call(got.eval(), x)
        if out.shape == (2, 1000):
            raise Hint(f"{make.__name__} still gives 1000 logits: the new layer is not the one `forward` calls. "
                       "`add_module` (or a new attribute name) adds a layer that never runs; assign over the old one, "
                       "`model.fc = nn.Linear(model.fc.in_features, num_classes)`")
        expect(out.shape == (2, 5), f"{make.__name__} gives {tuple(out.shape)} for 2 images; expected (2, 5)")
        expect(torch.equal(next(got.parameters()), first), f"{make.__name__}'s first layer changed: only the head "
                                                           "should be new")
    return "`model.fc = nn.Linear(...)` for ResNet, `model.classifier[-1] = nn.Linear(...)` for MobileNet."


@exercise("10.2")
def prepare_head_training(answer: Any) -> str:
    """``prepare_head_training(model, num_classes, lr) -> optimizer``: freeze the ResNet, new ``fc``, AdamW on it."""
    torch.manual_seed(0)
    model = resnet18(weights=None)
    optimizer = call(answer, model, 3, 1e-3)
    expect(isinstance(optimizer, torch.optim.Optimizer), f"return the optimizer, not {type(optimizer).__name__}")
    expect(model.fc.out_features == 3, f"the new head has {model.fc.out_features} outputs; expected 3")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    expect(trainable == {"fc.weight", "fc.bias"}, "only the new head should have `requires_grad=True`; these do: "
                                                  f"{sorted(trainable)[:4]}{' ...' if len(trainable) > 4 else ''}")
    held = [p for group in optimizer.param_groups for p in group["params"]]
    expect(len(held) == 2 and all(p.requires_grad for p in held), f"the optimizer holds {len(held)} tensors: give it "
           "only the trainable ones, `[p for p in model.parameters() if p.requires_grad]`")
    before = model.bn1.running_mean.clone()
    model.train()                                                # what every training loop does each epoch
    loss = model(torch.randn(4, 3, 32, 32) * 3 + 1).sum()
    loss.backward()
    if not torch.equal(model.bn1.running_mean, before):
        raise Hint("after `model.train()` a forward pass changed bn1's running mean: `requires_grad_(False)` does not "
                   "stop BatchNorm from updating its statistics. Keep the frozen BatchNorm layers in eval mode "
                   "(`helpers.finetune.freeze` does it with a forward pre-hook)")
    optimizer.step()
    return "frozen weights, frozen BatchNorm statistics, and an optimizer over the head alone."


@exercise("10.3")
def imagenet_eval_transform(answer: Any) -> str:
    """``imagenet_eval_transform() -> transform``: by hand, what ``ResNet18_Weights.DEFAULT.transforms()`` does."""
    image = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    want = ResNet18_Weights.DEFAULT.transforms()(image)
    transform = call(answer)
    expect(callable(transform), f"return a transform (a `v2.Compose`), not {type(transform).__name__}")
    got = call(transform, image.clone())
    expect(isinstance(got, torch.Tensor) and got.shape == (3, 224, 224),
           f"the output should be (3, 224, 224); got {getattr(got, 'shape', type(got).__name__)}")
    expect(got.dtype == torch.float32, f"the output is {got.dtype}; convert with `v2.ToDtype(torch.float32, "
                                       "scale=True)`")
    if 0 <= float(got.min()) and float(got.max()) <= 1:
        raise Hint("the values are in 0..1: the ImageNet weights expect `v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)` "
                   "after the conversion")
    if not torch.allclose(got, want, atol=0.05):
        squeezed = abs(float(got.mean() - want.mean()))
        raise Hint("the pixels differ from the weights' own preprocessing: resize the short side to 256 "
                   "(`v2.Resize(256)`, one number keeps the aspect ratio), then `v2.CenterCrop(224)`, then convert "
                   f"and normalise (mean difference {squeezed:.3f})")
    return "Resize(256), CenterCrop(224), float in 0..1, Normalize: `weights.transforms()` spelled out."
