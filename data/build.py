#!/usr/bin/env python3
"""Build the small datasets bundled in ``data/`` from the source archives.

Run from anywhere::

    python data/build.py                       # reads ../shared/datasets/ beside the repository
    python data/build.py --source DIR          # the two archives live in DIR
    python data/build.py --cifar-from-torchvision ~/.cache/cifar   # online: CIFAR from torchvision

What it writes (and nothing else):

* ``data/cifar10-mini/{train,val}/<class>/NNNN.jpg``: 500 train images per class drawn from
  the CIFAR-10 train split, 100 val images per class drawn from its test split. The JPEG bytes
  are copied unchanged; ``NNNN`` is the image's index inside its class in the source split.
* ``data/cifar10-catdog/test/{cat,dog}/NNNN.jpg``: every cat and dog image of the CIFAR-10 test
  split (1,000 each), copied unchanged: notebook 10's held-out test set for finetuning.
* ``data/hymenoptera/{train,val}/{ants,bees}/``: every file of the ants/bees set; photos whose
  shorter side exceeds 256 px are resized to 256 px on that side and re-encoded (JPEG, quality
  90), others are copied unchanged, and so are the two quirks (``imageNotFound.gif``, the
  ``.jpeg`` file) that notebook 01 teaches.
* ``data/SHA256SUMS``: a checksum line for every file above (``sha256sum -c`` format), and for the
  pretrained weights in ``data/pretrained/`` that ``scripts/pretrain_cifar8.py`` wrote (this script
  does not retrain them; it keeps them and their checksum).
* the counts table of ``data/README.md`` (between its ``counts`` markers).

The build is deterministic: the same archives (and the same Pillow) give the same bytes.
It verifies the SHA-256 of each input first and refuses, naming the file, if one is missing
or altered. It needs only the standard library and Pillow (torchvision for the online variant).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import shutil
import sys
import tarfile
from collections import Counter
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCE = DATA_DIR.parent.parent / "shared" / "datasets"

# The expected inputs. The checksums are written here, not read from the SHA256SUMS beside the
# archives, so that an altered archive cannot pass with an altered checksum file.
ARCHIVES = {
    "cifar10-jpg.tar.gz": "ff937e22f2e42c12741508e6351cd54497a0e81afe873c5dc0592ff3b9aa0d70",
    "hymenoptera_data.tar.gz": "14cef50dceaf381418de26b3842d1a06722058f4e1857987a434a9efc758c8e7",
}
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
HYMENOPTERA_CLASSES = ("ants", "bees")
# (output split, source split, images per class)
CIFAR_SPLITS = (("train", "train", 500), ("val", "test", 100))
# The held-out test set of notebook 10: every test image of these classes.
CATDOG_CLASSES = ("cat", "dog")
# What the build writes (swapped in whole) and what SHA256SUMS also lists (kept, not rebuilt).
BUILT = ("cifar10-mini", "cifar10-catdog", "hymenoptera")
KEPT = ("pretrained",)
SEED = 0
MAX_SHORT_SIDE = 256
JPEG_QUALITY = 90


class BuildError(RuntimeError):
    """An input is missing, altered or not laid out as expected."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_archive(source: Path, name: str) -> Path:
    """Return the path of archive ``name`` in ``source`` once its SHA-256 matches."""
    path = source / name
    if not path.is_file():
        raise BuildError(
            f"input archive not found: {path}\n"
            f"  Expected the source archives in {source} (see ../shared/datasets/README.md),\n"
            f"  or pass --source DIR."
        )
    actual = sha256_of(path)
    if actual != ARCHIVES[name]:
        raise BuildError(
            f"checksum mismatch for {path}:\n  expected {ARCHIVES[name]}\n  got      {actual}\n"
            f"  The archive is corrupt or not the expected release; fetch a fresh copy."
        )
    return path


def read_members(archive: Path) -> dict[str, bytes]:
    """Every regular file of a .tar.gz, by member name, read in one streaming pass."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isfile():
                    data = tar.extractfile(member)
                    assert data is not None  # regular files always have data
                    files[member.name.removeprefix("./")] = data.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BuildError(f"cannot read {archive} as a .tar.gz archive: {e}") from e
    return files


def by_class(files: dict[str, bytes], split: str, classes: tuple[str, ...], archive: Path) -> dict[str, list[str]]:
    """Member names under ``split/<class>/``, sorted, for each expected class."""
    grouped: dict[str, list[str]] = {c: [] for c in classes}
    for name in files:
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == split and parts[1] in grouped:
            grouped[parts[1]].append(name)
    for cls, names in grouped.items():
        if not names:
            raise BuildError(f"{archive}: class folder {split}/{cls}/ is missing or empty")
        names.sort()
    return grouped


def build_cifar_from_archive(archive: Path, out: Path) -> None:
    files = read_members(archive)
    for out_split, src_split, per_class in CIFAR_SPLITS:
        grouped = by_class(files, src_split, CIFAR10_CLASSES, archive)
        for cls, names in grouped.items():
            if len(names) < per_class:
                raise BuildError(f"{archive}: {src_split}/{cls}/ has {len(names)} images, need {per_class}")
            # A string seed is hashed the same way on every platform and Python version.
            chosen = random.Random(f"{SEED}-{out_split}-{cls}").sample(names, per_class)
            for name in sorted(chosen):
                write(out / "cifar10-mini" / out_split / cls / Path(name).name, files[name])
    for cls, names in by_class(files, "test", CATDOG_CLASSES, archive).items():
        for name in names:
            write(out / "cifar10-catdog" / "test" / cls / Path(name).name, files[name])


def build_cifar_from_torchvision(root: Path, out: Path) -> None:
    """The online variant: CIFAR-10 from torchvision's download, encoded as JPEG here."""
    from torchvision.datasets import CIFAR10  # imported here: the offline build needs no torch

    for out_split, src_split, per_class in CIFAR_SPLITS:
        ds = CIFAR10(root=str(root), train=(src_split == "train"), download=True)
        per_cls_idx: dict[int, list[int]] = {i: [] for i in range(len(CIFAR10_CLASSES))}
        for i, target in enumerate(ds.targets):
            per_cls_idx[target].append(i)
        for c, cls in enumerate(CIFAR10_CLASSES):
            positions = range(len(per_cls_idx[c]))  # index inside the class, as in the archive
            chosen = random.Random(f"{SEED}-{out_split}-{cls}").sample(list(positions), per_class)
            for pos in sorted(chosen):
                image, _ = ds[per_cls_idx[c][pos]]
                buf = io.BytesIO()
                image.save(buf, format="JPEG", quality=JPEG_QUALITY)
                write(out / "cifar10-mini" / out_split / cls / f"{pos:04d}.jpg", buf.getvalue())
    test = CIFAR10(root=str(root), train=False, download=True)
    for cls in CATDOG_CLASSES:
        indices = [i for i, target in enumerate(test.targets) if target == CIFAR10_CLASSES.index(cls)]
        for pos, i in enumerate(indices):
            buf = io.BytesIO()
            test[i][0].save(buf, format="JPEG", quality=JPEG_QUALITY)
            write(out / "cifar10-catdog" / "test" / cls / f"{pos:04d}.jpg", buf.getvalue())


def shrink_photo(name: str, data: bytes) -> bytes:
    """Resize a photo so its shorter side is at most 256 px; other files come back unchanged."""
    from PIL import Image

    if not name.lower().endswith((".jpg", ".jpeg")):
        return data  # the GIF quirk is kept byte for byte
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            w, h = im.size
            short = min(w, h)
            if short <= MAX_SHORT_SIDE:
                return data
            size = (round(w * MAX_SHORT_SIDE / short), round(h * MAX_SHORT_SIDE / short))
            small = im.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
            buf = io.BytesIO()
            small.save(buf, format="JPEG", quality=JPEG_QUALITY)
            return buf.getvalue()
    except OSError as e:
        raise BuildError(f"hymenoptera archive member {name}: not a readable image ({e})") from e


def build_hymenoptera(archive: Path, out: Path) -> None:
    files = read_members(archive)
    for split in ("train", "val"):
        for cls, names in by_class(files, split, HYMENOPTERA_CLASSES, archive).items():
            for name in names:
                write(out / "hymenoptera" / split / cls / Path(name).name, shrink_photo(name, files[name]))


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def manifest_lines(root: Path, subdirs: tuple[str, ...]) -> list[str]:
    lines = []
    for sub in subdirs:
        for path in sorted((root / sub).rglob("*") if (root / sub).is_dir() else []):
            if path.is_file():
                lines.append(f"{sha256_of(path)}  {path.relative_to(root).as_posix()}")
    return lines


def counts_table(root: Path) -> str:
    rows = ["| dataset | split | class | files |", "| --- | --- | --- | ---: |"]
    total_bytes = 0
    for sub in BUILT:
        counts = Counter()
        for path in sorted((root / sub).rglob("*")):
            if path.is_file():
                split, cls = path.relative_to(root / sub).parts[:2]
                counts[(split, cls)] += 1
                total_bytes += path.stat().st_size
        for (split, cls), n in sorted(counts.items()):
            rows.append(f"| {sub} | {split} | {cls} | {n} |")
    for sub in KEPT:
        for path in sorted((root / sub).rglob("*") if (root / sub).is_dir() else []):
            if path.is_file():
                rows.append(f"| {sub} | - | {path.name} | 1 |")
                total_bytes += path.stat().st_size
    rows.append("")
    rows.append(f"Total size of the files: {total_bytes / 1e6:.1f} MB ({total_bytes:,} bytes).")
    from PIL import __version__ as pillow_version

    rows.append(f"Built with Pillow {pillow_version}: the resized photos are byte-identical only when rebuilt "
                "with the same Pillow; everything else is copied from the archives unchanged.")
    return "\n".join(rows)


def update_readme(readme: Path, table: str) -> None:
    start, end = "<!-- counts:start -->", "<!-- counts:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        raise BuildError(f"{readme} lacks the {start} / {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{table}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder holding the source archives")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="where to write (default: this folder)")
    parser.add_argument(
        "--cifar-from-torchvision", type=Path, metavar="ROOT",
        help="online alternative: build CIFAR-mini from torchvision.datasets.CIFAR10(ROOT, download=True)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    staging = out / ".build-tmp"
    try:
        hymenoptera = check_archive(args.source, "hymenoptera_data.tar.gz")
        cifar = None if args.cifar_from_torchvision else check_archive(args.source, "cifar10-jpg.tar.gz")
        # Build into a staging folder and swap it in at the end, so a failed build leaves
        # the previous data untouched.
        shutil.rmtree(staging, ignore_errors=True)
        if cifar is not None:
            build_cifar_from_archive(cifar, staging)
        else:
            build_cifar_from_torchvision(args.cifar_from_torchvision, staging)
        build_hymenoptera(hymenoptera, staging)
    except BuildError as e:
        shutil.rmtree(staging, ignore_errors=True)
        print(f"data/build.py: error: {e}", file=sys.stderr)
        return 1
    for sub in BUILT:
        shutil.rmtree(out / sub, ignore_errors=True)
        (staging / sub).rename(out / sub)
    staging.rmdir()
    (out / "SHA256SUMS").write_text("\n".join(manifest_lines(out, BUILT + KEPT)) + "\n")
    table = counts_table(out)
    if (out / "README.md").exists():
        update_readme(out / "README.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
