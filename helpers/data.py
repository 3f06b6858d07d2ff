"""The bundled datasets: their paths (checked before use), class names, statistics and constructors.

For your own folders, use the dataset classes in ``helpers.datasets``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torchvision.datasets import ImageFolder

from helpers.files import DataError, load_rgb, scan_class_folders

if TYPE_CHECKING:  # imported for the annotation only: `import helpers.data` stays light
    from helpers.models import CifarResNet

#: Where ``data/build.py`` writes the bundled datasets; ``HELPERS_DATA_DIR`` overrides it.
DATA_DIR = Path(os.environ.get("HELPERS_DATA_DIR", Path(__file__).resolve().parents[1] / "data"))

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
HYMENOPTERA_CLASSES: tuple[str, ...] = ("ants", "bees")

#: The classes of each bundled dataset, by folder name.
BUNDLED: dict[str, tuple[str, ...]] = {"cifar10-mini": CIFAR10_CLASSES, "hymenoptera": HYMENOPTERA_CLASSES,
                                       "cifar10-catdog": ("cat", "dog")}
#: The splits of each bundled dataset. ``cifar10-catdog`` holds every cat and dog image of
#: CIFAR-10's test split: notebook 10's held-out test set, seen by no training step.
SPLITS: dict[str, tuple[str, ...]] = {"cifar10-mini": ("train", "val"), "hymenoptera": ("train", "val"),
                                      "cifar10-catdog": ("test",)}

#: Files kept in the bundled data on purpose although they are not photos (notebook 01 teaches
#: them). Paths are relative to the split folder.
KNOWN_QUIRKS: dict[str, frozenset[str]] = {"hymenoptera": frozenset({"ants/imageNotFound.gif"})}

#: The per-channel statistics of ImageNet's training images, which torchvision's pretrained
#: weights expect (``ResNet18_Weights.IMAGENET1K_V1.transforms()`` uses these).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

DatasetName = Literal["cifar10-mini", "hymenoptera", "cifar10-catdog"]
Split = Literal["train", "val", "test"]


def data_root(name: DatasetName, split: Split) -> Path:
    """The folder of one split of a bundled dataset, checked before use.

    Args:
        name: ``"cifar10-mini"``, ``"hymenoptera"`` or ``"cifar10-catdog"``.
        split: ``"train"`` or ``"val"`` (``"test"`` for ``"cifar10-catdog"``).

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
    if split not in SPLITS[name]:
        raise DataError(f"unknown split {split!r} of {name}; use {' or '.join(map(repr, SPLITS[name]))}")
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


def catdog_test_tensors() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every cat and dog image of CIFAR-10's test split (1,000 each), decoded into memory.

    Notebook 10's held-out test set: the bundled pretrained weights never saw a cat or a dog, and
    its finetuning trains on CIFAR-mini's *training* images only.

    Returns:
        ``(images, labels, classes)``: ``(2000, 3, 32, 32)`` uint8, ``(2000,)`` int64 (0 cat, 1 dog)
        and ``["cat", "dog"]``.
    """
    from torchvision.transforms.functional import pil_to_tensor

    folder = ImageFolder(data_root("cifar10-catdog", "test"), loader=load_rgb)
    images = torch.stack([pil_to_tensor(load_rgb(path)) for path, _ in folder.samples])  # (N, 3, 32, 32)
    return images, torch.tensor(folder.targets, dtype=torch.int64), list(folder.classes)


#: The bundled pretrained backbone written by ``scripts/pretrain_cifar8.py`` (see data/README.md).
PRETRAINED = DATA_DIR / "pretrained" / "cifar8_resnet.pt"
#: Its SHA-256, written here rather than read from data/SHA256SUMS, so that an altered file cannot
#: pass with an altered list. ``make pretrained`` prints the new value to put here.
PRETRAINED_SHA256 = "8d2c761981441382032bcc6a83db061d1308ce6fd348a2f43e6e6e21db8bb05f"


def pretrained_cifar8(path: str | Path | None = None,
                      sha256: str | None = PRETRAINED_SHA256) -> tuple[CifarResNet, dict[str, Any]]:
    """The bundled backbone: a ``CifarResNet`` pretrained on the 8 CIFAR-10 classes other than cat and dog.

    The file's SHA-256 is checked first; the weights are then read with ``weights_only=True``
    (``helpers.checkpoint.load_checkpoint``) into a model built from the file's own config.

    Args:
        path: The checkpoint; by default the bundled ``data/pretrained/cifar8_resnet.pt``.
        sha256: The expected checksum; None skips the check (for a file you trained yourself).

    Returns:
        ``(model, config)``: the model in eval mode with its 8-class head, and the recipe with
        ``classes``, ``mean``/``std`` (normalise with these), ``test_acc``, ``train_seconds``...

    Raises:
        DataError: The file is missing, its checksum differs, or it is not such a checkpoint.

    Example:
        >>> backbone, config = pretrained_cifar8()
        >>> backbone.fc = nn.Linear(backbone.fc.in_features, 2)      # a new head for cat vs dog
    """
    import hashlib

    from helpers.checkpoint import load_checkpoint
    from helpers.models import CifarResNet

    path = Path(path) if path is not None else PRETRAINED
    if not path.is_file():
        raise DataError(f"pretrained weights not found: {path}; rebuild them with `make pretrained` "
                        "(minutes on a GPU, hours on a 2-core CPU)")
    if sha256 is not None:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != sha256:
            raise DataError(f"checksum mismatch for {path}:\n  expected {sha256}\n  got      {actual}\n"
                            "  The file is corrupt or was retrained; restore it with `git checkout -- data/pretrained` "
                            "or, for weights you trained yourself, pass sha256=None")
    raw = torch.load(path, weights_only=True, map_location="cpu")
    config = raw.get("config", {}) if isinstance(raw, dict) else {}
    if config.get("architecture") != "helpers.models.CifarResNet":
        raise DataError(f"{path} is not a CifarResNet checkpoint written by scripts/pretrain_cifar8.py")
    model = CifarResNet(config["num_classes"], widths=config["widths"], blocks=config["blocks"])
    load_checkpoint(path, model, restore_rng=False)
    return model.eval(), config
