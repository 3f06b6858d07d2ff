"""Reading and checking image files: what counts as an image, a class-per-folder scan, loading
with errors that name the file, and an up-front check that finds every unreadable file at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from torchvision.datasets.folder import IMG_EXTENSIONS


class DataError(ValueError):
    """Input data that cannot be used as it is; the message names the file or folder."""


def is_image_file(path: str | Path, extensions: str | Sequence[str] = IMG_EXTENSIONS) -> bool:
    """Whether ``path`` has one of the image ``extensions`` (case-insensitive).

    Args:
        path: A file name or path.
        extensions: One ending (``".png"``) or several (``(".jpg", ".jpeg")``).

    Example:
        >>> is_image_file("cat.JPG"), is_image_file("cat.jpg", ".png")
        (True, False)
    """
    if isinstance(extensions, str):  # a single ending, not a sequence of one-letter endings
        extensions = (extensions,)
    return str(path).lower().endswith(tuple(e.lower() for e in extensions))


def scan_class_folders(
    root: str | Path,
    extensions: Sequence[str] = IMG_EXTENSIONS,
    skip_other_files: bool = False,
    allowed_other: frozenset[str] = frozenset(),
    classes: Sequence[str] | None = None,
) -> tuple[list[str], list[tuple[Path, int]], list[Path]]:
    """List an ``ImageFolder``-style tree: ``root/<class>/<image>``.

    Hidden files and folders (``.DS_Store``, ``.ipynb_checkpoints``) are left out.

    Args:
        root: The folder holding one sub-folder per class.
        extensions: File endings that count as images.
        skip_other_files: If False, a file that is not an image is an error; if True it is
            left out and returned in the third list.
        allowed_other: Paths relative to ``root`` that may be non-images and are left out.
        classes: The class names, in label order, e.g. the training set's ``classes``; a
            validation folder then gets the same labels even where a class has no folder.
            None: the sorted folder names, as ``ImageFolder`` does.

    Returns:
        ``(classes, samples, skipped)``: class names, ``(path, class_index)`` pairs in a
        stable order, and the non-image files that were left out.

    Raises:
        DataError: ``root`` is missing or holds no class folder, a class folder holds no image
            or is not among ``classes``, or a file is not an image (unless skipped); the message
            names it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{root} holds no class folders (expected {root}/<class>/<image files>)")
    if classes is None:
        classes = folders
    else:
        classes = list(classes)
        if len(set(classes)) != len(classes) or not all(isinstance(c, str) for c in classes):
            raise DataError(f"classes must be distinct folder names, got {classes}")
        unknown = [f for f in folders if f not in classes]
        if unknown:
            raise DataError(f"{root / unknown[0]} is not one of the given classes {classes}; "
                            "rename or remove it, or add it to classes")
    samples: list[tuple[Path, int]] = []
    skipped: list[Path] = []
    for index, cls in enumerate(classes):
        if cls not in folders:  # a split without this class: its label stays reserved
            continue
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
    return list(classes), samples, skipped


def load_image(path: str | Path, mode: str = "RGB") -> Image.Image:
    """Open an image file as a PIL image in ``mode`` (``"RGB"``, ``"L"`` for grayscale, ...).

    ``.convert(mode)`` turns grayscale, palette (GIF), RGBA and CMYK files into the channels a
    model expects, and forces the pixels to be decoded here, where the file name is known,
    rather than later inside a transform.

    Args:
        path: The image file.
        mode: A PIL mode: ``"RGB"`` (3 channels), ``"L"`` (1 channel), ...

    Raises:
        DataError: The file is missing or cannot be decoded; the message names it.

    Example:
        >>> gray = functools.partial(load_image, mode="L")    # a loader= that keeps images 1-channel
    """
    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except (OSError, SyntaxError, ValueError) as e:  # PIL raises all three for bad files
        raise DataError(f"cannot read {path} as an image: {e}") from e


def load_rgb(path: str | Path) -> Image.Image:
    """Open an image file as a 3-channel RGB PIL image: ``load_image(path, "RGB")``.

    Raises:
        DataError: The file is missing or cannot be decoded; the message names it.
    """
    return load_image(path, "RGB")


def find_unreadable(paths: Iterable[str | Path], loader: Callable[[Path], Any] = load_rgb) -> list[tuple[Path, str]]:
    """Try to load every file; return those that fail, each with the reason.

    Run it before training so that a corrupt file is found now, with all the others, rather
    than in epoch 3. It decodes every image once (about a millisecond per small JPEG).

    Args:
        paths: The files, e.g. ``[path for path, _ in dataset.samples]``.
        loader: How the dataset loads a file.

    Returns:
        ``(path, reason)`` for each file that could not be loaded; empty if all are fine.

    Example:
        >>> bad = find_unreadable(path for path, _ in train_set.samples)
    """
    bad = []
    for path in paths:
        try:
            loader(Path(path))
        except DataError as e:
            bad.append((Path(path), str(e.__cause__ or e)))
    return bad
