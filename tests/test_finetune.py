"""helpers.finetune against the plain PyTorch it replaces."""

import copy

import pytest
import torch
from torch import nn

from helpers.finetune import (
    freeze,
    is_frozen,
    load_matching_weights,
    param_groups,
    trainable_parameters,
    unfreeze,
)
from helpers.models import CifarResNet


def model_and_batch(seed=0):
    torch.manual_seed(seed)
    return CifarResNet(8, widths=(8, 16), blocks=(1, 1)), torch.randn(6, 3, 16, 16), torch.randint(0, 8, (6,))


def bn_buffers(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}


def train_steps(model, optimizer, x, y, steps=3):
    for _ in range(steps):
        model.train()                                   # what every training loop does each epoch
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_freeze_keeps_batchnorm_statistics_through_train_as_plain_pytorch_does():
    model, x, y = model_and_batch()
    by_hand = copy.deepcopy(model)
    freeze(model.stem)
    freeze(model.stages)
    before = bn_buffers(model)
    train_steps(model, torch.optim.SGD(trainable_parameters(model), lr=0.1), x, y)
    assert all(torch.equal(v, bn_buffers(model)[k]) for k, v in before.items())

    # Plain PyTorch: requires_grad_(False), and the frozen BatchNorm layers back to eval after train().
    for part in (by_hand.stem, by_hand.stages):
        part.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in by_hand.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        by_hand.train()
        for part in (by_hand.stem, by_hand.stages):
            for layer in part.modules():
                if isinstance(layer, nn.BatchNorm2d):
                    layer.eval()
        loss = nn.functional.cross_entropy(by_hand(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for key, value in by_hand.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key


def test_requires_grad_alone_lets_batchnorm_drift():
    model, x, y = model_and_batch()
    model.stages.requires_grad_(False)
    before = bn_buffers(model)
    train_steps(model, torch.optim.SGD(trainable_parameters(model), lr=0.1), x, y, steps=1)
    assert not torch.equal(before["stages.0.0.left.1.running_mean"], model.stages[0][0].left[1].running_mean)


def test_only_the_unfrozen_part_gets_gradients_and_the_optimizer_only_what_trains():
    model, x, y = model_and_batch()
    freeze(model)
    model.fc = nn.Linear(model.fc.in_features, 2)                     # a new head is trainable
    assert is_frozen(model.stages) and not is_frozen(model)
    assert trainable_parameters(model) == [model.fc.weight, model.fc.bias]
    nn.functional.cross_entropy(model(x), y % 2).backward()
    assert all(p.grad is None for p in model.stages.parameters()) and model.fc.weight.grad is not None


def test_unfreeze_restores_gradients_and_batchnorm_training():
    model, x, y = model_and_batch()
    freeze(model)
    freeze(model)                                                     # twice: still one hook per layer
    assert len(model.stem[1]._forward_pre_hooks) == 1
    unfreeze(model.train())
    assert not model.stem[1]._forward_pre_hooks and model.stem[1].training
    assert all(p.requires_grad for p in model.parameters())
    before = bn_buffers(model)
    model(x)
    assert not torch.equal(before["stem.1.running_mean"], model.stem[1].running_mean)


def test_param_groups_equal_hand_written_groups():
    model, x, y = model_and_batch()
    twin = copy.deepcopy(model)
    groups = param_groups(model, {"": 1e-3, "stages": 1e-2, "stages.1": 3e-2, "fc": 0.1}, weight_decay=5e-4)
    assert [g["name"] for g in groups] == ["", "stages", "stages.1", "fc"]
    assert [len(g["params"]) for g in groups] == [len(list(model.stem.parameters())),
                                                  len(list(model.stages[0].parameters())),
                                                  len(list(model.stages[1].parameters())), 2]
    by_hand = torch.optim.SGD([
        {"params": twin.stem.parameters(), "lr": 1e-3},
        {"params": twin.stages[0].parameters(), "lr": 1e-2},
        {"params": twin.stages[1].parameters(), "lr": 3e-2},
        {"params": twin.fc.parameters(), "lr": 0.1},
    ], lr=1.0, momentum=0.9, weight_decay=5e-4)
    train_steps(model, torch.optim.SGD(groups, lr=1.0, momentum=0.9), x, y)
    train_steps(twin, by_hand, x, y)
    for key, value in twin.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key


def test_param_groups_leave_frozen_parameters_out():
    model, _, _ = model_and_batch()
    freeze(model.stem)
    groups = param_groups(model, {"stages": 1e-3, "fc": 1e-2})
    assert sum(len(g["params"]) for g in groups) == len(trainable_parameters(model))


@pytest.mark.parametrize("lrs,match", [
    ({"": 1e-4, "stages": 1e-3, "fc": 1e-2, "head": 0.1}, r"match no trainable parameter: \['head'\]"),
    ({"stages": 1e-3, "fc": 1e-2}, r"match no prefix of lrs: \['stem.0.weight'"),
    ({"stage": 1e-3, "": 1e-2}, r"match no trainable parameter: \['stage'\]"),        # not a prefix of "stages.0"
])
def test_param_groups_name_what_does_not_match(lrs, match):
    with pytest.raises(ValueError, match=match):
        param_groups(model_and_batch()[0], lrs)


def test_load_matching_weights_is_load_state_dict_of_the_matching_part():
    torch.manual_seed(0)
    source = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 10))
    target = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2), nn.Linear(2, 2))
    by_hand = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2), nn.Linear(2, 2))
    by_hand.load_state_dict(target.state_dict())
    own = by_hand.state_dict()
    by_hand.load_state_dict({k: v for k, v in source.state_dict().items()
                             if k in own and v.shape == own[k].shape}, strict=False)
    report = load_matching_weights(nn.DataParallel(target), source.state_dict())
    for key, value in by_hand.state_dict().items():
        assert torch.equal(value, target.state_dict()[key]), key
    assert torch.equal(target[0].weight, source[0].weight)
    assert report.loaded[:2] == ["0.weight", "0.bias"] and len(report.loaded) == 7
    assert report.shape_mismatch == ["3.weight: checkpoint (10, 8) vs model (2, 8)",
                                     "3.bias: checkpoint (10,) vs model (2,)"]
    assert report.missing == ["4.weight", "4.bias"] and report.unexpected == []
    assert "shapes differ (2)" in str(report) and "missing from the state_dict (2)" in str(report)


def test_load_matching_weights_reports_a_prefix_that_matches_nothing():
    model = nn.Linear(2, 2)
    report = load_matching_weights(model, {f"module.{k}": v for k, v in nn.Linear(2, 2).state_dict().items()})
    assert report.loaded == [] and report.unexpected == ["module.weight", "module.bias"]
