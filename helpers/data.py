"""The bundled datasets: their paths (checked before use), class names, statistics and constructors.

For your own folders, use the dataset classes in ``helpers.datasets``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torchvision.datasets import ImageFolder

from helpers.datasets import DataError, load_rgb, scan_class_folders

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
