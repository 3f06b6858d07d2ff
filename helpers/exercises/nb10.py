"""Checks for notebook 10 (finetuning): a new head, a frozen backbone trained properly, the weights' preprocessing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import ResNet18_Weights, resnet18
from torchvision.models.mobilenetv3 import mobilenet_v3_small
from torchvision.transforms import v2

from helpers.exercises.core import Check, Hint, call, expect


def replace_head(answer: Any) -> str:
    """``replace_head(model, num_classes) -> model``: a new last layer for a ResNet (``fc``) or a MobileNet."""
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for make in (resnet18, mobilenet_v3_small):
        torch.manual_seed(0)
        model = make(weights=None).eval()
        first = next(model.parameters()).detach().clone()
        in_features = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].in_features
        got = call(answer, model, 5, hints=[("cannot be multiplied", "keep the head's other layers: replace only "
                   "the last `nn.Linear` (for MobileNet, `model.classifier[-1]`), with its `in_features`.")])
        expect(isinstance(got, nn.Module), f"return the model, not {type(got).__name__}")
        with torch.no_grad():
            out = call(got.eval(), x)
        last = [m for m in got.modules() if isinstance(m, nn.Linear)][-1]
        if last.out_features == 5 and last.weight.shape[0] == 1000:
            raise Hint("setting `out_features` changes a number, not the weights (still 1000 rows): create a new "
                       "layer, `nn.Linear(in_features, num_classes)`, and assign it over the old one")
        if out.shape == (2, 1000):
            raise Hint(f"{make.__name__} still gives 1000 logits: the new layer is not the one `forward` calls. "
                       "`add_module` (or a new attribute name) adds a layer that never runs; assign over the old one, "
                       "`model.fc = nn.Linear(model.fc.in_features, num_classes)`")
        expect(out.shape == (2, 5), f"{make.__name__} gives {tuple(out.shape)} for 2 images; expected (2, 5)")
        linears = [m for m in got.modules() if isinstance(m, nn.Linear)]
        expect(not any(m.out_features == 1000 for m in linears), f"{make.__name__} still has its 1000-class layer, "
               "with a new one after it: replace the last layer instead of adding one")
        expect(linears[-1].in_features == in_features, f"{make.__name__}'s new layer takes {linears[-1].in_features} "
               f"inputs, where the old last layer took {in_features}: replace only the last `nn.Linear` and keep "
               "the rest of the head")
        expect(torch.equal(next(got.parameters()), first), f"{make.__name__}'s first layer changed: only the head "
                                                           "should be new")
    return "`model.fc = nn.Linear(...)` for ResNet, `model.classifier[-1] = nn.Linear(...)` for MobileNet."


def prepare_head_training(answer: Any) -> str:
    """``prepare_head_training(model, num_classes, lr) -> optimizer``: freeze the ResNet, new ``fc``, AdamW on it."""
    torch.manual_seed(0)
    model = resnet18(weights=None)
    optimizer = call(answer, model, 3, 1e-3, hints=[("empty parameter list", "nothing was trainable when the "
                     "optimizer was made: freeze first, then create the new `fc` (a new layer is trainable).")])
    expect(isinstance(optimizer, torch.optim.AdamW), f"return an `AdamW`, not {type(optimizer).__name__}")
    expect(all(group["lr"] == 1e-3 for group in optimizer.param_groups), "the optimizer's learning rate should be "
                                                                         "`lr`, 1e-3 here")
    expect(model.fc.out_features == 3, f"the new head has {model.fc.out_features} outputs; expected 3")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    expect(trainable == {"fc.weight", "fc.bias"}, "only the new head should have `requires_grad=True`; these do: "
                                                  f"{sorted(trainable)[:4]}{' ...' if len(trainable) > 4 else ''}")
    held = [p for group in optimizer.param_groups for p in group["params"]]
    expect(len(held) == 2 and all(p.requires_grad for p in held), f"the optimizer holds {len(held)} tensors: give it "
           "only the trainable ones, `[p for p in model.parameters() if p.requires_grad]`")
    norms = {name: m for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    # On the CPU, where the check runs the model (the answer may have moved it to a GPU).
    before = {name: m.running_mean.detach().cpu().clone() for name, m in norms.items() if m.running_mean is not None}
    model.train()                                                # what every training loop does each epoch
    out = call(model.cpu(), torch.randn(4, 3, 32, 32) * 3 + 1, hints=[("cannot be multiplied", "the new `fc` takes "
               "`model.fc.in_features` inputs (512 for ResNet-18).")])
    out.sum().backward()
    for name, m in norms.items():
        stats = (m.running_mean is not None and name in before and m.track_running_stats
                 and torch.equal(m.running_mean.cpu(), before[name]))
        if not stats or m.training:
            state = [part for part, bad in (("is in train mode", m.training),
                                            ("does not track statistics", not m.track_running_stats),
                                            ("has new statistics", m.track_running_stats and not stats)) if bad]
            raise Hint(f"after `model.train()` and a forward pass, {name} {' and '.join(state)}: "
                       "`requires_grad_(False)` does not stop BatchNorm from normalising with each batch's "
                       "statistics and updating its running mean. Keep every frozen BatchNorm layer in eval mode "
                       "(`helpers.finetune.freeze` does it with a forward pre-hook)")
    optimizer.step()
    return "frozen weights, frozen BatchNorm statistics, and an optimizer over the head alone."


def imagenet_eval_transform(answer: Any) -> str:
    """``imagenet_eval_transform() -> transform``: by hand, what ``ResNet18_Weights.DEFAULT.transforms()`` does."""
    image = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    want = ResNet18_Weights.DEFAULT.transforms()(image)
    transform = call(answer)
    expect(isinstance(transform, v2.Compose), f"spell it out as a `v2.Compose` of the four steps, not "
                                              f"{type(transform).__name__}")
    got = call(transform, image.clone())
    expect(isinstance(got, torch.Tensor) and got.shape == (3, 224, 224),
           f"the output should be (3, 224, 224); got {getattr(got, 'shape', type(got).__name__)}")
    expect(got.dtype == torch.float32, f"the output is {got.dtype}; convert with `v2.ToDtype(torch.float32, "
                                       "scale=True)`")
    if float(got.max()) > 20:
        raise Hint(f"values up to {float(got.max()):.0f}: convert with `v2.ToDtype(torch.float32, scale=True)`, "
                   "which divides `uint8` by 255, before `Normalize`")
    if 0 <= float(got.min()) and float(got.max()) <= 1:
        raise Hint("the values are in 0..1: the ImageNet weights expect `v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)` "
                   "after the conversion")
    expect(torch.allclose(got, want, atol=0.05), "the pixels differ from the weights' own preprocessing: resize the "
           "short side to 256 (`v2.Resize(256)`, one number keeps the aspect ratio), then `v2.CenterCrop(224)`, "
           "then convert and normalise")
    return "Resize(256), CenterCrop(224), float in 0..1, Normalize: `weights.transforms()` spelled out."


CHECKS: dict[str, Check] = {"10.1": replace_head, "10.2": prepare_head_training, "10.3": imagenet_eval_transform}
