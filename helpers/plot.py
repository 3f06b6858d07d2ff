"""Pictures: image grids with labels, and training curves.

Each function returns the matplotlib ``Figure`` it drew; a notebook ends the cell with
``plt.show()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor


def _not_normalised(where: str, dtype: torch.dtype) -> TypeError:
    return TypeError(f"{where} expects normalised images, which are floating point; got {dtype}. A uint8 image "
                     "is not normalised: show it directly (without mean and std), or convert it with "
                     ".float() / 255 first")


def denormalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo ``Normalize(mean, std)`` so that images can be shown.

    Args:
        images: Normalised images, ``(C, H, W)`` or ``(B, C, H, W)``, floating point (``Normalize``
            only ever produces floats; a ``uint8`` image is not normalised).
        mean: Per-channel means that were subtracted.
        std: Per-channel standard deviations that were divided by.

    Returns:
        ``images * std + mean``, clamped to ``[0, 1]``, on the same device.

    Raises:
        TypeError: ``images`` is not floating point.

    Example:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> z = (x - 0.5) / 0.25
        >>> torch.allclose(denormalize(z, [0.5] * 3, [0.25] * 3), x)
        True
    """
    if not images.is_floating_point():
        # Casting mean and std to an integer dtype would turn them into 0 and give black images.
        raise _not_normalised("denormalize", images.dtype)
    if images.dim() not in (3, 4):
        raise ValueError(f"expected images of shape (C, H, W) or (B, C, H, W), got {tuple(images.shape)}")
    channels = images.shape[-3]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean and std need {channels} values (one per channel), got {len(mean)} and {len(std)}")
    shape = (channels, 1, 1)  # broadcast over H and W (and B)
    m = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(shape)
    s = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(shape)
    return (images * s + m).clamp(0, 1)


def _check_image(image: torch.Tensor) -> None:
    """Refuse what matplotlib would reject with "Invalid shape" only once the figure is half drawn."""
    if image.dim() != 3 or image.shape[0] not in (1, 3, 4):
        channels_last = image.dim() == 3 and image.shape[-1] in (1, 3, 4)
        hint = " (channels last? use image.permute(2, 0, 1))" if channels_last else ""
        raise ValueError(f"expected an image of shape (C, H, W) with 1, 3 or 4 channels, "
                         f"got {tuple(image.shape)}{hint}")


def _to_display(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] or uint8 -> (H, W, C) or (H, W) float NumPy array."""
    _check_image(image)
    image = image.detach().cpu()
    if image.dtype == torch.uint8:
        image = image.float() / 255
    elif image.is_floating_point():
        image = image.float()  # NumPy has no bfloat16 (an AMP model's output, say)
    if image.shape[0] == 1:
        return image[0].numpy()
    return image.permute(1, 2, 0).numpy()  # matplotlib wants channels last


def show_image_grid(
    images: torch.Tensor | Sequence[torch.Tensor],
    labels: Sequence[int] | torch.Tensor | None = None,
    class_names: Sequence[str] | None = None,
    preds: Sequence[int] | torch.Tensor | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    ncols: int = 8,
    size: float = 1.6,
    title: str | None = None,
) -> Figure:
    """Show a batch of images in a grid, each titled with its label.

    With ``preds``, each title reads ``pred (true)``, green when they agree and red when not.

    Args:
        images: ``(B, C, H, W)`` tensor or a list of ``(C, H, W)`` tensors (sizes may differ),
            float in ``[0, 1]`` (or normalised, with ``mean``/``std``) or ``uint8`` (never
            normalised: passing ``mean``/``std`` with it is a ``TypeError``).
        labels: True class indices, one per image.
        class_names: Names for the class indices (every label and prediction must index it);
            indices are shown without them.
        preds: Predicted class indices, one per image.
        mean: If given with ``std``, the images are denormalised for display first.
        std: See ``mean``.
        ncols: Images per row.
        size: Size of each image in inches.
        title: Title above the grid.

    Returns:
        The figure.

    Example:
        >>> images, labels = next(iter(loader))
        >>> show_image_grid(images[:16], labels[:16], train_set.classes, mean=MEAN, std=STD)
        >>> plt.show()
    """
    if isinstance(images, torch.Tensor) and images.dim() != 4:
        hint = " (one image? pass images[None])" if images.dim() == 3 else ""
        raise ValueError(f"images must be a batch (B, C, H, W) or a list of (C, H, W) tensors, "
                         f"got a tensor of shape {tuple(images.shape)}{hint}")
    batch = list(images)
    if not batch:
        raise ValueError("show_image_grid needs at least one image")
    for image in batch:
        _check_image(image)
        if mean is not None and not image.is_floating_point():
            raise _not_normalised("show_image_grid with mean and std", image.dtype)
    for name, values in (("labels", labels), ("preds", preds)):
        if values is not None and len(values) != len(batch):
            raise ValueError(f"got {len(batch)} images but {len(values)} {name}")
    if (mean is None) != (std is None):
        raise ValueError("pass both mean and std to undo Normalize, or neither")
    if class_names is not None:
        for name, values in (("labels", labels), ("preds", preds)):
            outside = [int(v) for v in (values if values is not None else []) if not 0 <= int(v) < len(class_names)]
            if outside:
                raise ValueError(f"{name} holds class index {outside[0]}, but class_names has "
                                 f"{len(class_names)} names")

    def name_of(index: int) -> str:
        return class_names[index] if class_names is not None else str(index)

    ncols = max(1, min(ncols, len(batch)))
    nrows = math.ceil(len(batch) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.45)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(batch):
            continue
        image = batch[i]
        if mean is not None and std is not None:
            image = denormalize(image.float(), mean, std)  # float: checked above
        ax.imshow(_to_display(image), cmap="gray" if image.shape[0] == 1 else None)
        if preds is not None:
            pred = int(preds[i])
            truth = int(labels[i]) if labels is not None else None
            text = name_of(pred) if truth is None else f"{name_of(pred)} ({name_of(truth)})"
            color = "black" if truth is None else ("green" if pred == truth else "red")
            ax.set_title(text, fontsize=8, color=color)
        elif labels is not None:
            ax.set_title(name_of(int(labels[i])), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _as_tensor_image(image: torch.Tensor | Image.Image) -> torch.Tensor:
    if isinstance(image, Image.Image):
        return pil_to_tensor(image.convert("RGB") if image.mode not in ("RGB", "L") else image)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a PIL image or a tensor, got {type(image).__name__}")
    return image


def show_rows(
    rows: Mapping[str, Sequence[torch.Tensor | Image.Image]],
    size: float = 1.6,
    titles: Sequence[str] | None = None,
) -> Figure:
    """A gallery: one labelled row per entry of ``rows``, e.g. the draws of one transform.

    Args:
        rows: Row label -> images (PIL images, or ``(C, H, W)`` tensors, uint8 or float in
            ``[0, 1]``). Rows may have different lengths and images different sizes.
        size: Size of each image in inches.
        titles: Optional column titles for the top row.

    Returns:
        The figure.

    Example:
        >>> flip = v2.RandomHorizontalFlip()
        >>> show_rows({"original": [photo], "RandomHorizontalFlip": [flip(photo) for _ in range(4)]})
        >>> plt.show()
    """
    if not rows or not all(len(images) for images in rows.values()):
        raise ValueError("show_rows needs at least one image in every row")
    tensors = {label: [_as_tensor_image(image) for image in images] for label, images in rows.items()}
    for images in tensors.values():
        for image in images:
            _check_image(image)
    ncols = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * size, len(rows) * size), squeeze=False)
    for r, (label, images) in enumerate(tensors.items()):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and titles is not None and c < len(titles):
                ax.set_title(titles[c], fontsize=8)
            if c >= len(images):
                ax.axis("off")
                continue
            image = images[c]
            ax.imshow(_to_display(image), cmap="gray" if image.shape[0] == 1 else None)
            if c == 0:
                ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def plot_history(history: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """Loss and accuracy curves from a history dict, one value per epoch.

    Keys containing ``loss`` are drawn in the left panel and keys containing ``acc`` in the right
    one, e.g. ``{"train_loss": [...], "val_loss": [...], "train_acc": [...], "val_acc": [...]}``.

    Returns:
        The figure.
    """
    panels = [("loss", [k for k in history if "loss" in k]), ("accuracy", [k for k in history if "acc" in k])]
    panels = [(label, keys) for label, keys in panels if keys]
    if not panels:
        raise ValueError(f"history has no loss or accuracy keys: {list(history)}")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.5), squeeze=False)
    for ax, (label, keys) in zip(axes.flat, panels, strict=True):
        for key in keys:
            values = list(history[key])
            ax.plot(range(1, len(values) + 1), values, marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix: torch.Tensor, class_names: Sequence[str], title: str = "confusion matrix",
                          ax: plt.Axes | None = None) -> Figure:
    """Draw a confusion matrix (row = true class, column = prediction) with its counts.

    Args:
        matrix: ``(C, C)`` counts, e.g. from ``helpers.metrics.confusion_matrix``.
        class_names: ``C`` names for the axes.
        title: The panel's title.
        ax: Draw into this axes (e.g. one panel of a larger figure); None makes a new figure.

    Returns:
        The figure drawn into.

    Example:
        >>> plot_confusion_matrix(confusion_matrix(preds, targets, 10), classes)
        >>> plt.show()
    """
    matrix = torch.as_tensor(matrix).cpu()
    c = len(class_names)
    if matrix.shape != (c, c):
        raise ValueError(f"matrix must be ({c}, {c}) for {c} class names, got {tuple(matrix.shape)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.0 + 0.6 * c, 0.8 + 0.55 * c))
    else:
        fig = ax.figure  # type: ignore[assignment]
    ax.imshow(matrix.numpy(), cmap="Blues")
    peak = float(matrix.max()) if matrix.numel() else 0.0
    for i in range(c):
        for j in range(c):
            value = matrix[i, j].item()
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8,
                    color="white" if value > peak / 2 else "black")
    ax.set_xticks(range(c), list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(c), list(class_names))
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return fig
