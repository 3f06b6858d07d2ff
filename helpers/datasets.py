"""Dataset classes for image folders, label files and streams, and the checks they share.

Dataset classes live in a module rather than in a notebook because a ``DataLoader`` with
``num_workers > 0`` pickles its dataset on macOS and Windows (the ``spawn`` start method), and a
class defined in a notebook cannot be found by name in a worker process.

Importing this module is cheap: TorchCodec is imported only when ``TensorImageFolder`` decodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, get_worker_info
from torchvision.datasets.folder import IMG_EXTENSIONS

from helpers.files import DataError, find_unreadable, load_rgb, scan_class_folders


class _ImageListDataset(Dataset):
    """Shared by the datasets below: ``self.samples`` of ``(path, label)``, loaded with ``self.loader``."""

    samples: list[tuple[Path, int]]
    transform: Callable[[Any], Any] | None
    loader: Callable[[Path], Any] = staticmethod(load_rgb)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def targets(self) -> list[int]:
        """The label of every sample, in order (as ``ImageFolder.targets``)."""
        return [label for _, label in self.samples]

    def verify(self) -> None:
        """Load every file once; raise one ``DataError`` listing all that cannot be read."""
        bad = find_unreadable((path for path, _ in self.samples), self.loader)
        if bad:
            listing = "\n".join(f"  {path}: {reason}" for path, reason in bad)
            raise DataError(f"{len(bad)} of {len(self.samples)} files cannot be read:\n{listing}\n"
                            "remove or replace them, then build the dataset again")

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        image = self.loader(path)  # raises DataError naming the file if it cannot be decoded
        if self.transform is not None:
            image = self.transform(image)
        return image, label


class ImageFileDataset(_ImageListDataset):
    """A folder-per-class image dataset written by hand, as notebook 01 builds it.

    It offers what ``ImageFolder`` users rely on (``classes``, ``class_to_idx``, ``targets``,
    ``samples``), and makes bad data visible: a file that is not an image stops construction
    with an error naming it (unless ``skip_other_files=True``, which lists the skipped files in
    ``self.skipped``), a file that cannot be decoded raises an error naming it, and
    ``verify=True`` finds every unreadable file before training starts.

    Give a validation split the training split's ``classes``: its labels then match even if a
    class has no folder there (with its own folder scan, ``{'cat': 0, 'ship': 1}`` against the
    training set's ``{'cat': 0, 'dog': 1, 'ship': 2}`` would silently mislabel every ship).

    Args:
        root: A folder with one sub-folder of images per class.
        transform: Applied to each loaded image.
        extensions: File endings that count as images.
        skip_other_files: Leave non-image files out instead of raising.
        classes: Class names in label order (e.g. ``train_set.classes``); None: the sorted folder names.
        loader: Loads one file, by default ``load_rgb``; ``functools.partial(load_image, mode="L")``
            keeps grayscale images 1-channel.
        verify: Load every file now and raise one error listing all that cannot be read.

    Example:
        >>> train_set = ImageFileDataset("my_photos/train", verify=True)
        >>> val_set = ImageFileDataset("my_photos/val", classes=train_set.classes)
    """

    def __init__(
        self,
        root: str | Path,
        transform: Callable[[Any], Any] | None = None,
        extensions: Sequence[str] = IMG_EXTENSIONS,
        skip_other_files: bool = False,
        classes: Sequence[str] | None = None,
        loader: Callable[[Path], Any] = load_rgb,
        verify: bool = False,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.loader = loader
        self.classes, self.samples, self.skipped = scan_class_folders(self.root, extensions, skip_other_files,
                                                                      classes=classes)
        self.class_to_idx = {cls: i for i, cls in enumerate(self.classes)}
        if verify:
            self.verify()

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
            if len(parts) != 2 or not (parts[1].isascii() and parts[1].isdigit()):
                raise DataError(f"{where}: expected '<path> <label>' with a label that is an integer >= 0 "
                                f"(a class index), got {line!r}")
            path = self.root / parts[0]
            if not path.is_file():
                raise DataError(f"{where}: image file {path} not found")
            self.samples.append((path, int(parts[1])))
        if not self.samples:
            raise DataError(f"{self.labels_file} lists no images")


class TensorImageFolder(Dataset):
    """Image files decoded by TorchCodec straight into ``uint8`` tensors ``(3, H, W)``.

    Skips PIL: ``torchcodec.decoders.decode_image`` decodes JPEG, PNG, WebP and GIF files into
    RGB tensors, which the ``transforms.v2`` pipeline then works on directly. (It replaces
    ``torchvision.io.decode_image``, deprecated since torchvision 0.29.)

    Args:
        samples: ``(path, label)`` pairs, e.g. ``ImageFolder(root).samples``.
        transform: Applied to each ``(3, H, W)`` uint8 tensor.

    Raises:
        DataError: From ``__getitem__``, naming a file that cannot be read or decoded.
    """

    def __init__(
        self,
        samples: Sequence[tuple[str | Path, int]],
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        self.samples = [(Path(p), int(y)) for p, y in samples]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        from torchcodec.decoders import decode_image  # imported on first use: keeps `import helpers` light

        try:
            image = decode_image(path, mode="RGB")  # (3, H, W) uint8; a GIF's first frame
        except (RuntimeError, OSError, ValueError) as e:
            raise DataError(f"cannot decode {path}: {e}") from e
        if self.transform is not None:
            image = self.transform(image)
        return image, label


class TextLinesStream(IterableDataset):
    """An iterable-style dataset: the lines of a text file, read lazily, in order.

    Every ``DataLoader`` worker runs ``__iter__`` on its own copy of the dataset. With
    ``split_across_workers=True`` worker ``k`` of ``n`` keeps only lines ``k, k + n, k + 2n, ...``,
    so that the workers together yield each line once; with False every worker yields every
    line, which is the duplication bug notebook 03 shows.

    Args:
        path: The text file.
        split_across_workers: Share the lines out between workers (the right thing).

    Example:
        >>> loader = DataLoader(TextLinesStream("labels.txt"), batch_size=32, num_workers=2)
    """

    def __init__(self, path: str | Path, split_across_workers: bool = True) -> None:
        self.path = Path(path)
        self.split_across_workers = split_across_workers
        if not self.path.is_file():
            raise DataError(f"text file not found: {self.path}")

    def __iter__(self) -> Iterator[str]:
        info = get_worker_info()  # None in the main process
        worker, workers = (info.id, info.num_workers) if info and self.split_across_workers else (0, 1)
        with self.path.open() as f:
            for number, line in enumerate(f):
                if number % workers == worker:
                    yield line.rstrip("\n")
