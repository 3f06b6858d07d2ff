"""Notebook 04, nn.Module: Net as a Sequential, forward hooks, initialisation for leaky ReLU."""

from torch import nn


def net_as_sequential():
    return nn.Sequential(
        nn.Conv2d(3, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),     # (B, 6, 14, 14)
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),    # (B, 16, 5, 5)
        nn.Flatten(),                                                   # (B, 400): what torch.flatten(x, 1) did
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def relu_means(model, images):
    means, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            def hook(module, inputs, output, name=name):                # name=name: each hook keeps its own
                means[name] = output.mean().item()
            handles.append(module.register_forward_hook(hook))
    try:
        model(images)
    finally:
        for handle in handles:
            handle.remove()
    return means


def init_leaky(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)


SOLUTIONS = {"04.1": net_as_sequential, "04.2": relu_means, "04.3": init_leaky}


def _no_flatten():
    layers = list(net_as_sequential())
    return nn.Sequential(*[layer for layer in layers if not isinstance(layer, nn.Flatten)])


def _relu_means_hooks_left(model, images):
    means = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(lambda m, i, out, name=name: means.__setitem__(name, out.mean().item()))
    model(images)
    return means


def _init_relu_gain(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)


def _init_every_weight(m):
    if hasattr(m, "weight") and m.weight is not None and m.weight.ndim > 1:
        nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
        nn.init.zeros_(m.bias)
    elif hasattr(m, "weight") and m.weight is not None:
        nn.init.normal_(m.weight)                                       # also "initialises" BatchNorm's scale


def _relu_input_means(model, images):
    means, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            handles.append(module.register_forward_hook(
                lambda m, inputs, out, name=name: means.__setitem__(name, inputs[0].mean().item())))
    model(images)
    for handle in handles:
        handle.remove()
    return means


def _init_uniform(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_uniform_(m.weight, a=0.2, nonlinearity="leaky_relu")
        nn.init.zeros_(m.bias)


def _relu_means_late_binding(model, images):
    means, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            handles.append(module.register_forward_hook(lambda m, i, out: means.__setitem__(name, out.mean().item())))  # noqa: B023 - the mistake
    model(images)
    for handle in handles:
        handle.remove()
    return means


MISTAKES = {
    "04.1": [(_no_flatten, "add `nn.Flatten()`")],
    "04.2": [
        (_relu_means_hooks_left, "handle.remove()"),
        (_relu_input_means, "Record `output.mean().item()`"),
        (_relu_means_late_binding, "every hook wrote under one name"),
    ],
    "04.3": [
        (_init_relu_gain, "that is ReLU's gain"),
        (_init_every_weight, "initialise only Conv2d and Linear"),
        (_init_uniform, "they are uniform"),
    ],
}
