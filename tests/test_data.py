import hashlib
import re
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

import helpers.data as hd
from helpers.data import (
    CIFAR10_CLASSES,
    DataError,
    ImageFileDataset,
    LabelFileDataset,
    cifar10_mini,
    data_root,
    hymenoptera,
    load_rgb,
)

DATA = Path(__file__).resolve().parents[1] / "data"
TO_TENSOR = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def make_image(path: Path, color=(200, 30, 30), mode="RGB", size=(6, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/{cats,dogs}/ with two small images each, one of them grayscale."""
    root = tmp_path / "pets"
    make_image(root / "cats" / "a.jpg")
    make_image(root / "cats" / "b.png", color=(0, 255, 0))
    make_image(root / "dogs" / "c.jpeg", color=128, mode="L")
    make_image(root / "dogs" / "d.JPG", color=(0, 0, 255))
    return root


# --- the bundled data ----------------------------------------------------------------------

def test_every_bundled_file_matches_the_manifest():
    lines = (DATA / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    on_disk = {p.relative_to(DATA).as_posix() for sub in ("cifar10-mini", "hymenoptera")
               for p in (DATA / sub).rglob("*") if p.is_file()}
    assert on_disk == set(listed), f"files not in the manifest: {sorted(on_disk ^ set(listed))[:5]}"
    for name, digest in listed.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name


def test_bundled_counts_and_size():
    for split, n in (("train", 500), ("val", 100)):
        for cls in CIFAR10_CLASSES:
            assert len(list((DATA / "cifar10-mini" / split / cls).glob("*.jpg"))) == n
    counts = {(s, c): len(list((DATA / "hymenoptera" / s / c).iterdir()))
              for s in ("train", "val") for c in ("ants", "bees")}
    assert counts == {("train", "ants"): 124, ("train", "bees"): 121, ("val", "ants"): 70, ("val", "bees"): 83}
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert size < 25e6


def test_readme_counts_match_the_files():
    readme = (DATA / "README.md").read_text()
    rows = re.findall(r"^\| (cifar10-mini|hymenoptera) \| (\w+) \| (\w+) \| (\d+) \|$", readme, re.M)
    assert len(rows) == 24
    for name, split, cls, n in rows:
        assert len(list((DATA / name / split / cls).iterdir())) == int(n)


def test_bundled_photos_are_small_and_quirks_kept():
    root = DATA / "hymenoptera"
    for p in root.rglob("*.jp*g"):
        with Image.open(p) as im:
            assert min(im.size) <= 256, p
    with Image.open(root / "train" / "ants" / "imageNotFound.gif") as gif:
        assert gif.mode == "P"
    assert (root / "train" / "ants" / "formica.jpeg").is_file()


def test_bundled_constructors():
    train, val = cifar10_mini("train", transform=TO_TENSOR), cifar10_mini("val")
    assert (len(train), len(val)) == (5000, 1000)
    assert train.classes == list(CIFAR10_CLASSES)
    image, label = train[0]
    assert image.shape == (3, 32, 32) and label == 0
    ants_bees = hymenoptera("train")
    assert len(ants_bees) == 244  # ImageFolder leaves out the GIF
    assert len(hymenoptera("val")) == 153


def test_data_root_rejects_unknown_names():
    with pytest.raises(DataError, match="unknown dataset"):
        data_root("mnist", "train")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="unknown split 'test'"):
        data_root("hymenoptera", "test")  # type: ignore[arg-type]


@pytest.fixture
def copied_data(tmp_path, monkeypatch) -> Path:
    """A copy of the bundled hymenoptera val split, with DATA_DIR pointing at it."""
    shutil.copytree(DATA / "hymenoptera" / "val", tmp_path / "hymenoptera" / "val")
    monkeypatch.setattr(hd, "DATA_DIR", tmp_path)
    return tmp_path / "hymenoptera" / "val"


def test_data_root_names_a_missing_class_folder(copied_data):
    shutil.rmtree(copied_data / "bees")
    with pytest.raises(DataError, match=r"class folder .*hymenoptera/val/bees is missing"):
        data_root("hymenoptera", "val")


def test_data_root_names_a_non_image_file(copied_data):
    (copied_data / "ants" / "notes.txt").write_text("not a photo")
    with pytest.raises(DataError, match=r"ants/notes\.txt is not an image file"):
        hymenoptera("val")


def test_data_root_names_an_empty_class_and_an_unexpected_one(copied_data):
    for p in (copied_data / "bees").iterdir():
        p.unlink()
    with pytest.raises(DataError, match=r"class folder .*val/bees holds no image files"):
        data_root("hymenoptera", "val")


def test_data_root_names_an_unexpected_class(copied_data):
    make_image(copied_data / "wasps" / "w.jpg")
    with pytest.raises(DataError, match=r"val/wasps is not a class of hymenoptera"):
        data_root("hymenoptera", "val")


def test_data_root_explains_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setattr(hd, "DATA_DIR", tmp_path)
    with pytest.raises(DataError, match="python data/build.py"):
        data_root("cifar10-mini", "train")


# --- load_rgb and ImageFileDataset ------------------------------------------------------------

@pytest.mark.parametrize("mode,color", [("L", 7), ("P", 3), ("RGBA", (1, 2, 3, 4)), ("CMYK", (1, 2, 3, 4))])
def test_load_rgb_gives_three_channels(tmp_path, mode, color):
    path = make_image(tmp_path / f"x.{'jpg' if mode in ('L', 'CMYK') else 'png'}", color=color, mode=mode)
    assert load_rgb(path).mode == "RGB"


def test_load_rgb_names_truncated_and_fake_images(tmp_path):
    photo = make_image(tmp_path / "photo.jpg", size=(64, 64))
    photo.write_bytes(photo.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cannot read .*photo\.jpg as an image"):
        load_rgb(photo)
    fake = tmp_path / "fake.jpg"
    fake.write_text("hello")
    with pytest.raises(DataError, match=r"fake\.jpg"):
        load_rgb(fake)
    with pytest.raises(DataError, match=r"missing\.jpg"):
        load_rgb(tmp_path / "missing.jpg")


def test_image_file_dataset_matches_image_folder(tree):
    ours = ImageFileDataset(tree, transform=TO_TENSOR)
    theirs = ImageFolder(tree, transform=TO_TENSOR)
    assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx
    assert [(str(p), y) for p, y in ours.samples] == theirs.samples
    for i in range(len(theirs)):
        torch.testing.assert_close(ours[i][0], theirs[i][0])
        assert ours[i][1] == theirs[i][1]


def test_image_file_dataset_names_a_non_image_file(tree):
    (tree / "dogs" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=r"dogs/readme\.txt is not an image file"):
        ImageFileDataset(tree)
    ds = ImageFileDataset(tree, skip_other_files=True)
    assert [p.name for p in ds.skipped] == ["readme.txt"]
    assert len(ds) == 4 and "skipped=1" in repr(ds)


def test_image_file_dataset_ignores_hidden_files(tree):
    (tree / "cats" / ".DS_Store").write_bytes(b"\0")
    (tree / ".ipynb_checkpoints").mkdir()
    ds = ImageFileDataset(tree)
    assert ds.classes == ["cats", "dogs"] and len(ds) == 4


def test_image_file_dataset_names_an_empty_class_folder(tree):
    (tree / "birds").mkdir()
    with pytest.raises(DataError, match=r"class folder .*pets/birds holds no image files"):
        ImageFileDataset(tree)


def test_image_file_dataset_names_missing_root(tmp_path):
    with pytest.raises(DataError, match="dataset folder not found"):
        ImageFileDataset(tmp_path / "nope")
    with pytest.raises(DataError, match="holds no class folders"):
        ImageFileDataset(tmp_path)


def test_image_file_dataset_names_a_corrupt_image(tree):
    (tree / "dogs" / "d.JPG").write_bytes(b"\xff\xd8 not really")
    ds = ImageFileDataset(tree)
    with pytest.raises(DataError, match=r"d\.JPG"):
        ds[3]


def test_image_file_dataset_works_in_worker_processes(tree):
    ds = ImageFileDataset(tree, transform=v2.Compose([TO_TENSOR, v2.Resize((4, 4))]))
    loader = DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context="spawn")
    labels = torch.cat([y for _, y in loader])
    assert labels.tolist() == [0, 0, 1, 1]


# --- LabelFileDataset -----------------------------------------------------------------------

def test_label_file_dataset_reads_lines(tree):
    labels = tree / "labels.txt"
    labels.write_text("# path label\ncats/a.jpg 0\n\ndogs/c.jpeg 1\n")
    ds = LabelFileDataset(labels, transform=TO_TENSOR)
    assert len(ds) == 2
    image, label = ds[1]
    assert image.shape == (3, 4, 6) and label == 1


@pytest.mark.parametrize("text,match", [
    ("cats/a.jpg\n", r"labels\.txt:1: expected '<path> <integer label>'"),
    ("cats/a.jpg 0\ncats/a.jpg cat\n", r"labels\.txt:2: expected"),
    ("cats/a.jpg 0\ncats/zzz.jpg 0\n", r"labels\.txt:2: image file .*zzz\.jpg not found"),
    ("# nothing\n", r"lists no images"),
])
def test_label_file_dataset_names_the_bad_line(tree, text, match):
    labels = tree / "labels.txt"
    labels.write_text(text)
    with pytest.raises(DataError, match=match):
        LabelFileDataset(labels)


def test_label_file_dataset_missing_file(tmp_path):
    with pytest.raises(DataError, match="labels file not found"):
        LabelFileDataset(tmp_path / "labels.txt")
