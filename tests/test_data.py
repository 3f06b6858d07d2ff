import hashlib
import re
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

import helpers.data as hd
from helpers.data import (
    CIFAR10_CLASSES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    cifar10_mini,
    cifar10_mini_tensors,
    data_root,
    hymenoptera,
)
from helpers.files import DataError

DATA = Path(__file__).resolve().parents[1] / "data"
TO_TENSOR = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def make_image(path: Path, color=(200, 30, 30), mode="RGB", size=(6, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


# --- the bundled data ----------------------------------------------------------------------

def test_every_bundled_file_matches_the_manifest():
    lines = (DATA / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    on_disk = {p.relative_to(DATA).as_posix() for sub in ("cifar10-mini", "cifar10-catdog", "hymenoptera", "pretrained")
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
    for cls in ("cat", "dog"):
        assert len(list((DATA / "cifar10-catdog" / "test" / cls).glob("*.jpg"))) == 1000
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert size < 25e6


def test_readme_counts_match_the_files():
    readme = (DATA / "README.md").read_text()
    rows = re.findall(r"^\| (cifar10-mini|cifar10-catdog|hymenoptera) \| (\w+) \| (\w+) \| (\d+) \|$", readme, re.M)
    assert len(rows) == 26
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


def test_cifar10_mini_tensors_equal_decoding_by_hand():
    images, labels, classes = cifar10_mini_tensors("val")
    folder = ImageFolder(data_root("cifar10-mini", "val"), transform=v2.PILToTensor())
    assert images.shape == (1000, 3, 32, 32) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert classes == folder.classes == list(CIFAR10_CLASSES)
    for i in (0, 417, 999):
        image, label = folder[i]
        assert torch.equal(images[i], image) and labels[i] == label


def test_imagenet_statistics_are_torchvisions():
    from torchvision.models import ResNet18_Weights

    preset = ResNet18_Weights.IMAGENET1K_V1.transforms()
    assert tuple(preset.mean) == IMAGENET_MEAN and tuple(preset.std) == IMAGENET_STD


def test_catdog_test_set_is_cifar_test_images_no_training_split_holds():
    images, labels, classes = hd.catdog_test_tensors()
    assert images.shape == (2000, 3, 32, 32) and images.dtype == torch.uint8 and classes == ["cat", "dog"]
    assert torch.bincount(labels).tolist() == [1000, 1000]
    # CIFAR-mini's val images of cat and dog were drawn from the same test split: the same bytes.
    for cls in ("cat", "dog"):
        for path in (DATA / "cifar10-mini" / "val" / cls).glob("*.jpg"):
            assert path.read_bytes() == (DATA / "cifar10-catdog" / "test" / cls / path.name).read_bytes()
    with pytest.raises(DataError, match="unknown split 'train' of cifar10-catdog; use 'test'"):
        data_root("cifar10-catdog", "train")


def test_pretrained_loader_checks_the_file_before_loading(tmp_path):
    from helpers.checkpoint import save_checkpoint
    from helpers.models import CifarResNet

    model = CifarResNet(8, widths=(8, 16), blocks=(1, 1))
    config = {"architecture": "helpers.models.CifarResNet", "num_classes": 8, "widths": [8, 16], "blocks": [1, 1]}
    path = save_checkpoint(tmp_path / "w.pt", model, config=config)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded, got = hd.pretrained_cifar8(path, sha256=digest)
    assert got == config and not loaded.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())
    with pytest.raises(DataError, match=r"checksum mismatch .*w.pt:\n  expected 0+\n  got      " + digest):
        hd.pretrained_cifar8(path, sha256="0" * 64)
    with pytest.raises(DataError, match="weights not found: .*missing.pt; rebuild them with `make pretrained`"):
        hd.pretrained_cifar8(tmp_path / "missing.pt")
    save_checkpoint(tmp_path / "other.pt", model, config={"architecture": "something else"})
    with pytest.raises(DataError, match="not a CifarResNet checkpoint"):
        hd.pretrained_cifar8(tmp_path / "other.pt", sha256=None)


def test_bundled_backbone_loads_and_knows_its_eight_classes():
    """The checksum holds, and the weights do what data/README.md says: recognise the 8 classes (on CIFAR-mini's
    val images of those classes, a subset of the test images it was measured on) and have never seen a cat."""
    model, config = hd.pretrained_cifar8()
    assert config["classes"] == ["airplane", "automobile", "bird", "deer", "frog", "horse", "ship", "truck"]
    assert config["held_out"] == ["cat", "dog"] and config["test_acc"] >= 0.88
    images, labels, classes = cifar10_mini_tensors("val")
    keep = torch.tensor([classes[int(y)] in config["classes"] for y in labels])
    targets = torch.tensor([config["classes"].index(classes[int(y)]) for y in labels[keep]])
    mean, std = torch.tensor(config["mean"]).view(1, 3, 1, 1), torch.tensor(config["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = model((images[keep].float() / 255 - mean) / std).argmax(1)
    assert (predicted == targets).float().mean() >= 0.85
