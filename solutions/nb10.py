"""Notebook 10, finetuning: a new head, a frozen backbone trained properly, the weights' preprocessing."""

import torch
from torch import nn
from torchvision.transforms import v2

from helpers.data import IMAGENET_MEAN, IMAGENET_STD
from helpers.finetune import freeze


def replace_head(model, num_classes):
    if isinstance(getattr(model, "fc", None), nn.Linear):        # ResNet
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    else:                                                        # MobileNet, EfficientNet, VGG: a Sequential head
        model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model


def prepare_head_training(model, num_classes, lr):
    freeze(model)                                                # requires_grad off, BatchNorm kept in eval mode
    model.fc = nn.Linear(model.fc.in_features, num_classes)      # new, so trainable
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)


def imagenet_eval_transform():
    return v2.Compose([
        v2.Resize(256),                                          # the short side; the aspect ratio is kept
        v2.CenterCrop(224),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


SOLUTIONS = {"10.1": replace_head, "10.2": prepare_head_training, "10.3": imagenet_eval_transform}


def _head_added_beside(model, num_classes):
    model.add_module("head", nn.Linear(1000, num_classes))
    return model


def _freeze_with_requires_grad_only(model, num_classes, lr):
    model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return torch.optim.AdamW(model.fc.parameters(), lr=lr)


def _optimizer_over_everything(model, num_classes, lr):
    freeze(model)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return torch.optim.AdamW(model.parameters(), lr=lr)


def _without_normalize():
    return v2.Compose([v2.Resize(256), v2.CenterCrop(224), v2.ToDtype(torch.float32, scale=True)])


def _resize_straight_to_224():
    return v2.Compose([v2.Resize((224, 224)), v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _head_after_head(model, num_classes):
    return nn.Sequential(model, nn.Linear(1000, num_classes))


def _whole_classifier(model, num_classes):
    if isinstance(getattr(model, "fc", None), nn.Linear):
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    else:
        model.classifier = nn.Linear(model.classifier[0].in_features, num_classes)   # drops the hidden layer
    return model


def _sgd_optimizer(model, num_classes, lr):
    freeze(model)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return torch.optim.SGD(model.fc.parameters(), lr=lr)


def _momentum_zero(model, num_classes, lr):
    model.requires_grad_(False)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.0                                # statistics kept, but batches still normalised
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return torch.optim.AdamW(model.fc.parameters(), lr=lr)


def _weights_transforms():
    from torchvision.models import ResNet18_Weights
    return ResNet18_Weights.DEFAULT.transforms()


def _out_features_set(model, num_classes):
    model.fc.out_features = num_classes                          # the weight keeps its 1000 rows
    return model


def _no_scale():
    return v2.Compose([v2.Resize(256), v2.CenterCrop(224), v2.ToDtype(torch.float32),
                       v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


MISTAKES = {
    "10.1": [
        (_head_added_beside, "`add_module`"),
        (_head_after_head, "still has its 1000-class layer"),
        (_whole_classifier, "keep the rest of the head"),
        (_out_features_set, "setting `out_features`"),
    ],
    "10.2": [
        (_freeze_with_requires_grad_only, "has new statistics"),
        (_optimizer_over_everything, "only the trainable"),
        (_sgd_optimizer, "return an `AdamW`"),
        (_momentum_zero, "is in train mode"),
    ],
    "10.3": [
        (_without_normalize, "v2.Normalize"),
        (_resize_straight_to_224, "v2.CenterCrop(224)"),
        (_weights_transforms, "spell it out"),
        (_no_scale, "values up to"),
    ],
}
