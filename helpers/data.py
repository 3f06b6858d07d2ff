"""The bundled datasets: their paths (checked before use), class names, statistics and constructors.

For your own folders, use the dataset classes in ``helpers.datasets``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import torch
from torchvision.datasets import ImageFolder

from helpers.files import DataError, load_rgb, scan_class_folders

#: Where ``data/build.py`` writes the bundled datasets; ``HELPERS_DATA_DIR`` overrides it.
DATA_DIR = Path(os.environ.get("HELPERS_DATA_DIR", Path(__file__).resolve().parents[1] / "data"))

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
HYMENOPTERA_CLASSES: tuple[str, ...] = ("ants", "bees")

#: The classes of each bundled dataset, by folder name.
BUNDLED: dict[str, tuple[str, ...]] = {"cifar10-mini": CIFAR10_CLASSES, "hymenoptera": HYMENOPTERA_CLASSES}

#: Files kept in the bundled data on purpose although they are not photos (notebook 01 teaches
#: them). Paths are relative to the split folder.
KNOWN_QUIRKS: dict[str, frozenset[str]] = {"hymenoptera": frozenset({"ants/imageNotFound.gif"})}

#: The per-channel statistics of ImageNet's training images, which torchvision's pretrained
#: weights expect (``ResNet18_Weights.IMAGENET1K_V1.transforms()`` uses these).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

DatasetName = Literal["cifar10-mini", "hymenoptera"]
Split = Literal["train", "val"]


def data_root(name: DatasetName, split: Split) -> Path:
    """The folder of one split of a bundled dataset, checked before use.

    Args:
        name: ``"cifar10-mini"`` or ``"hymenoptera"``.
        split: ``"train"`` or ``"val"``.

    Returns:
        ``data/<name>/<split>``, which holds one folder per class.

    Raises:
        DataError: The folder is missing (build it with ``python data/build.py``), a class folder
            is missing, empty or unexpected, or a file in it is not an image.

    Example:
        >>> from torchvision.datasets import ImageFolder
        >>> train_set = ImageFolder(data_root("cifar10-mini", "train"))
    """
    if name not in BUNDLED:
        if isinstance(name, Path) or (isinstance(name, str) and ("/" in name or "\\" in name or Path(name).is_dir())):
            raise DataError(f"data_root names a bundled dataset ({', '.join(BUNDLED)}), not a path; for your own "
                            f"folder {str(name)!r}, use it directly: ImageFolder(folder) or ImageFileDataset(folder)")
        raise DataError(f"unknown dataset {name!r}; the bundled ones are {', '.join(BUNDLED)}")
    if split not in ("train", "val"):
        raise DataError(f"unknown split {split!r} of {name}; use 'train' or 'val'")
    root = DATA_DIR / name / split
    if not root.is_dir():
        raise DataError(f"{root} not found; build the bundled data with `python data/build.py`")
    expected = BUNDLED[name]
    missing = [cls for cls in expected if not (root / cls).is_dir()]
    if missing:
        raise DataError(f"class folder {root / missing[0]} is missing; rebuild with `python data/build.py`")
    classes, _, _ = scan_class_folders(root, allowed_other=KNOWN_QUIRKS.get(name, frozenset()))
    extra = sorted(set(classes) - set(expected))
    if extra:
        raise DataError(f"{root / extra[0]} is not a class of {name} (expected {', '.join(expected)})")
    return root


def cifar10_mini(split: Split, transform: Callable[[Any], Any] | None = None) -> ImageFolder:
    """The bundled CIFAR-10 subset as a torchvision ``ImageFolder``.

    Args:
        split: ``"train"`` (5,000 images) or ``"val"`` (1,000 images).
        transform: Applied to each PIL image.

    Returns:
        ``ImageFolder(data_root("cifar10-mini", split), transform, loader=load_rgb)``.
    """
    return ImageFolder(data_root("cifar10-mini", split), transform=transform, loader=load_rgb)


def hymenoptera(split: Split, transform: Callable[[Any], Any] | None = None) -> ImageFolder:
    """The bundled ants/bees photos as a torchvision ``ImageFolder``.

    ``ImageFolder`` leaves out ``train/ants/imageNotFound.gif`` because ``.gif`` is not among its
    image extensions: 244 train and 153 val images.
    """
    return ImageFolder(data_root("hymenoptera", split), transform=transform, loader=load_rgb)




def channel_stats(
    images: torch.Tensor | Iterable[Any], max_images: int | None = None
) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of images, for ``Normalize`` or ``BatchAugment``.

    Notebook 02 computes this by hand. Every pixel of every image counts once, so images of
    different sizes are weighted by their pixel count.

    Args:
        images: A ``(N, C, H, W)`` tensor (uint8 values are scaled to ``[0, 1]``), or a dataset
            of ``(image, label)`` pairs (or images) whose images are ``(C, H, W)`` tensors or PIL images.
        max_images: Use only the first this many images of a dataset (a quick estimate).

    Returns:
        ``(mean, std)``: one value per channel each, in the ``[0, 1]`` pixel range.

    Example:
        >>> mean, std = channel_stats(train_x)          # (5000, 3, 32, 32) uint8
        >>> augment = BatchAugment(mean, std, crop_padding=4, flip=True)
    """
    from torchvision.transforms.functional import pil_to_tensor

    count, total, total_sq = 0, None, None
    source = [images] if isinstance(images, torch.Tensor) else images
    for i, item in enumerate(source):
        if max_images is not None and i >= max_images:
            break
        x = item[0] if isinstance(item, (tuple, list)) else item
        x = x if isinstance(x, torch.Tensor) else pil_to_tensor(x)
        x = x.float() / 255 if x.dtype == torch.uint8 else x.double() if x.is_floating_point() else x
        if not x.is_floating_point():
            raise TypeError(f"channel_stats needs uint8 or float images, got {x.dtype}")
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4:
            raise ValueError(f"channel_stats needs (N, C, H, W) or (C, H, W) images, got shape {tuple(x.shape)}")
        x = x.double().transpose(0, 1).flatten(1)                   # (C, pixels)
        if total is not None and x.shape[0] != total.shape[0]:
            raise ValueError(f"image {i} has {x.shape[0]} channels, the first had {total.shape[0]}")
        total = x.sum(1) if total is None else total + x.sum(1)
        total_sq = (x * x).sum(1) if total_sq is None else total_sq + (x * x).sum(1)
        count += x.shape[1]
    if total is None or total_sq is None or count < 2:
        raise ValueError("channel_stats got no images")
    mean = total / count
    std = ((total_sq - count * mean * mean) / (count - 1)).clamp_min(0).sqrt()   # unbiased, like Tensor.std
    return mean.tolist(), std.tolist()


def cifar10_mini_tensors(split: Split) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The bundled CIFAR-10 subset decoded once into memory, as notebook 07 does by hand.

    Small images that fit in memory are best decoded a single time: no epoch touches a file
    again, and augmentation can work on whole batches (``helpers.loading.BatchAugment``).

    Args:
        split: ``"train"`` (5,000 images) or ``"val"`` (1,000 images).

    Returns:
        ``(images, labels, classes)``: ``(N, 3, 32, 32)`` uint8 images, ``(N,)`` int64 labels
        and the class names, in ``ImageFolder`` order.

    Example:
        >>> train_x, train_y, classes = cifar10_mini_tensors("train")
        >>> train_set = TensorDataset(train_x, train_y)
    """
    from torchvision.transforms.functional import pil_to_tensor

    folder = cifar10_mini(split)
    images = torch.stack([pil_to_tensor(load_rgb(path)) for path, _ in folder.samples])  # (N, 3, 32, 32)
    return images, torch.tensor(folder.targets, dtype=torch.int64), list(folder.classes)
