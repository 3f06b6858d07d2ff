"""Paths to the bundled datasets, and the image datasets the notebooks build.

Dataset classes live here rather than in a notebook because a ``DataLoader`` with
``num_workers > 0`` pickles its dataset on macOS and Windows (the ``spawn`` start method), and
a class defined in a notebook cannot be found by name in a worker process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

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

DatasetName = Literal["cifar10-mini", "hymenoptera"]
Split = Literal["train", "val"]


class DataError(ValueError):
    """Input data that cannot be used as it is; the message names the file or folder."""


def is_image_file(path: str | Path, extensions: Sequence[str] = IMG_EXTENSIONS) -> bool:
    """Whether ``path`` has one of the image ``extensions`` (case-insensitive)."""
    return str(path).lower().endswith(tuple(e.lower() for e in extensions))


def scan_class_folders(
    root: str | Path,
    extensions: Sequence[str] = IMG_EXTENSIONS,
    skip_other_files: bool = False,
    allowed_other: frozenset[str] = frozenset(),
) -> tuple[list[str], list[tuple[Path, int]], list[Path]]:
    """List an ``ImageFolder``-style tree: ``root/<class>/<image>``.

    Hidden files and folders (``.DS_Store``, ``.ipynb_checkpoints``) are left out.

    Args:
        root: The folder holding one sub-folder per class.
        extensions: File endings that count as images.
        skip_other_files: If False, a file that is not an image is an error; if True it is
            left out and returned in the third list.
        allowed_other: Paths relative to ``root`` that may be non-images and are left out.

    Returns:
        ``(classes, samples, skipped)``: sorted class names, ``(path, class_index)`` pairs in a
        stable order, and the non-image files that were left out.

    Raises:
        DataError: ``root`` is missing or holds no class folder, a class folder holds no image,
            or a file is not an image (unless skipped); the message names it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root} holds no class folders (expected {root}/<class>/<image files>)")
    samples: list[tuple[Path, int]] = []
    skipped: list[Path] = []
    for index, cls in enumerate(classes):
        found = 0
        for path in sorted((root / cls).iterdir()):
            if path.name.startswith(".") or path.is_dir():
                continue
            if is_image_file(path, extensions):
                samples.append((path, index))
                found += 1
            elif skip_other_files or path.relative_to(root).as_posix() in allowed_other:
                skipped.append(path)
            else:
                raise DataError(
                    f"{path} is not an image file (its extension is not one of {', '.join(extensions)}); "
                    "remove it, or pass skip_other_files=True to leave such files out"
                )
        if found == 0:
            raise DataError(f"class folder {root / cls} holds no image files")
    return classes, samples, skipped


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


def load_rgb(path: str | Path) -> Image.Image:
    """Open an image file as a 3-channel RGB PIL image.

    ``.convert("RGB")`` turns grayscale, palette (GIF), RGBA and CMYK files into the three
    channels a model expects, and forces the pixels to be decoded here, where the file name is
    known, rather than later inside a transform.

    Raises:
        DataError: The file is missing or cannot be decoded; the message names it.
    """
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as e:  # PIL raises all three for bad files
        raise DataError(f"cannot read {path} as an image: {e}") from e


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


class _ImageListDataset(Dataset):
    """Shared by the datasets below: ``self.samples`` of ``(path, label)``, loaded with ``load_rgb``."""

    samples: list[tuple[Path, int]]
    transform: Callable[[Image.Image], Any] | None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        image = load_rgb(path)  # raises DataError naming the file if it cannot be decoded
        if self.transform is not None:
            image = self.transform(image)
        return image, label


class ImageFileDataset(_ImageListDataset):
    """A folder-per-class image dataset written by hand, as notebook 01 builds it.

    It does what ``ImageFolder`` does, with two differences that make bad data visible: a file
    that is not an image stops construction with an error naming it (unless
    ``skip_other_files=True``, which lists the skipped files in ``self.skipped``), and a file that
    cannot be decoded raises an error naming it.

    Args:
        root: A folder with one sub-folder of images per class.
        transform: Applied to each RGB PIL image.
        extensions: File endings that count as images.
        skip_other_files: Leave non-image files out instead of raising.

    Example:
        >>> ds = ImageFileDataset(data_root("hymenoptera", "val"))
        >>> image, label = ds[0]   # (PIL RGB image, 0)
    """

    def __init__(
        self,
        root: str | Path,
        transform: Callable[[Image.Image], Any] | None = None,
        extensions: Sequence[str] = IMG_EXTENSIONS,
        skip_other_files: bool = False,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.classes, self.samples, self.skipped = scan_class_folders(self.root, extensions, skip_other_files)
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, {len(self)} images, "
            f"classes={self.classes}, skipped={len(self.skipped)})"
        )


class LabelFileDataset(_ImageListDataset):
    """Images listed in a text file of ``<relative path> <integer label>`` lines.

    The older tutorials build CIFAR this way: a labels file next to the images, one line per
    image. Blank lines and lines starting with ``#`` are ignored.

    Args:
        labels_file: The text file. Paths in it are relative to ``root``.
        root: Base folder for the paths; defaults to the labels file's folder.
        transform: Applied to each RGB PIL image.

    Raises:
        DataError: A line is malformed or names a file that does not exist (the message gives
            the labels file and line number).

    Example:
        >>> ds = LabelFileDataset("outputs/labels.txt", root="data/cifar10-mini/train")
    """

    def __init__(
        self,
        labels_file: str | Path,
        root: str | Path | None = None,
        transform: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        self.labels_file = Path(labels_file)
        self.root = Path(root) if root is not None else self.labels_file.parent
        self.transform = transform
        self.samples: list[tuple[Path, int]] = []
        if not self.labels_file.is_file():
            raise DataError(f"labels file not found: {self.labels_file}")
        for number, line in enumerate(self.labels_file.read_text().splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{self.labels_file}:{number}"
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise DataError(f"{where}: expected '<path> <integer label>', got {line!r}")
            path = self.root / parts[0]
            if not path.is_file():
                raise DataError(f"{where}: image file {path} not found")
            self.samples.append((path, int(parts[1])))
        if not self.samples:
            raise DataError(f"{self.labels_file} lists no images")
