"""helpers in your own notebook: your own folders, channels, sizes and predictions.

Each test compares with plain PyTorch/torchvision doing the same, and the last one walks a
practitioner's whole path on a small folder tree with the usual mistakes in it.
"""

import functools
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from helpers.data import channel_stats, data_root
from helpers.datasets import ImageFileDataset
from helpers.engine import evaluate, fit
from helpers.files import DataError, find_unreadable, load_image
from helpers.loading import BatchAugment
from helpers.metrics import confusion_matrix, predict
from helpers.models import CifarResNet, SmallCNN

TO_TENSOR = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
COLOURS = {"cat": (200, 40, 40), "dog": (40, 200, 40), "ship": (40, 40, 200)}


def photo(path: Path, colour, size=32, seed=0, mode="RGB"):
    """A small image: the class colour plus noise, so that a model can learn the classes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    base = torch.tensor(colour, dtype=torch.float32).view(3, 1, 1)
    pixels = (base + 40 * torch.randn(3, size, size, generator=g)).clamp(0, 255).to(torch.uint8)
    image = Image.fromarray(pixels.permute(1, 2, 0).numpy())
    (image.convert(mode) if mode != "RGB" else image).save(path)
    return path


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    """train/{cat,dog,ship} with 12 images each, val/{cat,ship} (no dog), and the usual mess."""
    root = tmp_path / "pets"
    for split, n, classes in (("train", 12, COLOURS), ("val", 6, ("cat", "ship"))):
        for k, cls in enumerate(classes):
            for i in range(n):
                photo(root / split / cls / f"{i}.jpg", COLOURS[cls], seed=100 * k + i + (0 if split == "train" else 50))
    return root


def test_own_folder_matches_image_folder(pets):
    ours = ImageFileDataset(pets / "train")
    theirs = ImageFolder(pets / "train")
    assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx
    assert ours.targets == theirs.targets
    assert [Path(p) for p, _ in theirs.samples] == [p for p, _ in ours.samples]


def test_val_without_a_class_keeps_the_training_labels(pets):
    train = ImageFileDataset(pets / "train")
    alone = ImageFileDataset(pets / "val")                       # the silent bug: ship becomes 1
    assert alone.class_to_idx == {"cat": 0, "ship": 1}
    shared = ImageFileDataset(pets / "val", classes=train.classes)
    assert shared.class_to_idx == train.class_to_idx == {"cat": 0, "dog": 1, "ship": 2}
    assert sorted(set(shared.targets)) == [0, 2]
    (pets / "val" / "horse").mkdir()
    photo(pets / "val" / "horse" / "0.jpg", (90, 90, 90))
    with pytest.raises(DataError, match=r"horse is not one of the given classes"):
        ImageFileDataset(pets / "val", classes=train.classes)


def test_loader_keeps_grayscale_grayscale(pets):
    gray = functools.partial(load_image, mode="L")
    ds = ImageFileDataset(pets / "train", transform=TO_TENSOR, loader=gray)
    image, _ = ds[0]
    assert image.shape == (1, 32, 32)
    plain = TO_TENSOR(Image.open(ds.samples[0][0]).convert("L"))
    assert torch.equal(image, plain)
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn")   # pickled, as on macOS
    assert next(iter(loader))[0].shape == (4, 1, 32, 32)


def test_verify_lists_every_unreadable_file_at_once(pets):
    (pets / "train" / "cat" / "0.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (pets / "train" / "dog" / "3.jpg").write_bytes(b"")
    ImageFileDataset(pets / "train")                             # construction alone does not decode
    with pytest.raises(DataError, match=r"2 of 36 files cannot be read:\n.*cat/0\.jpg.*\n.*dog/3\.jpg"):
        ImageFileDataset(pets / "train", verify=True)
    bad = find_unreadable(p for p, _ in ImageFolder(pets / "train").samples)
    assert [p.name for p, _ in bad] == ["0.jpg", "3.jpg"]


def test_channel_stats_match_torch(pets):
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    mean, std = channel_stats(images)
    x = images.float() / 255
    torch.testing.assert_close(torch.tensor(mean), x.mean(dim=(0, 2, 3)), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(torch.tensor(std), x.std(dim=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    folder = ImageFolder(pets / "train", transform=v2.PILToTensor())
    from_dataset = channel_stats(folder)
    stacked = channel_stats(torch.stack([im for im, _ in folder]))
    torch.testing.assert_close(torch.tensor(from_dataset), torch.tensor(stacked))
    gray = ImageFileDataset(pets / "train", transform=v2.PILToTensor(), loader=functools.partial(load_image, mode="L"))
    assert len(channel_stats(gray)[0]) == 1


def test_predict_and_confusion_matrix_match_a_plain_loop():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    x, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
    loader = DataLoader(list(zip(x, y, strict=True)), batch_size=6)
    preds, probs, targets = predict(model, loader, "cpu")
    with torch.no_grad():
        expected = model(x).softmax(1)
    torch.testing.assert_close(probs, expected)
    assert torch.equal(preds, expected.argmax(1)) and torch.equal(targets, y)
    matrix = confusion_matrix(preds, targets, 3)
    by_hand = torch.zeros(3, 3, dtype=torch.int64)
    for t, p in zip(y.tolist(), preds.tolist(), strict=True):
        by_hand[t, p] += 1
    assert torch.equal(matrix, by_hand) and matrix.trace() == (preds == y).sum()
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(torch.tensor([3]), torch.tensor([0]), 3)
    with pytest.raises(TypeError, match="class indices"):
        confusion_matrix(probs, targets, 3)


def test_data_root_points_a_path_to_the_folder_itself(tmp_path):
    with pytest.raises(DataError, match=r"not a path; for your own folder .*ImageFileDataset\(folder\)"):
        data_root(str(tmp_path), "train")
    with pytest.raises(DataError, match=r"not a path"):
        data_root(tmp_path, "train")
    with pytest.raises(DataError, match=r"unknown dataset 'cifar100'"):
        data_root("cifar100", "train")


def test_batch_augment_keeps_one_channel_when_told_one_channel():
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    x, _ = BatchAugment([0.5], [0.25])([(im, 0) for im in images])
    assert x.shape == (4, 1, 8, 8)
    torch.testing.assert_close(x, (images.float() / 255 - 0.5) / 0.25)


def to_uint8(folder: ImageFileDataset):
    """(N, C, H, W) uint8 images and labels, decoded once."""
    return [(v2.functional.pil_to_tensor(folder.loader(p)), y) for p, y in folder.samples]


@pytest.mark.parametrize("variant", ["rgb32", "gray32", "rgb64"])
def test_practitioners_path_end_to_end(tmp_path, variant):
    root = tmp_path / "pets"
    size = 64 if variant == "rgb64" else 32
    for split, n in (("train", 16), ("val", 6)):
        classes = COLOURS if split == "train" else ("cat", "ship")
        for k, cls in enumerate(classes):
            for i in range(n):
                seed = 100 * k + i + 1000 * (split == "val")
                photo(root / split / cls / f"{i}.jpg", COLOURS[cls], size=size, seed=seed)
    (root / "train" / "dog" / "notes.txt").write_text("a stray file")
    (root / "train" / "ship" / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")

    # The mistakes, each with a clear error.
    with pytest.raises(DataError, match=r"notes\.txt is not an image file"):
        ImageFileDataset(root / "train")
    with pytest.raises(DataError, match=r"1 of 49 files cannot be read:\n.*broken\.jpg"):
        ImageFileDataset(root / "train", skip_other_files=True, verify=True)
    (root / "train" / "ship" / "broken.jpg").unlink()

    gray = variant == "gray32"
    loader = functools.partial(load_image, mode="L") if gray else load_image
    train = ImageFileDataset(root / "train", skip_other_files=True, loader=loader, verify=True)
    val = ImageFileDataset(root / "val", classes=train.classes, loader=loader)
    assert [p.name for p in train.skipped] == ["notes.txt"] and val.class_to_idx == train.class_to_idx

    train_items, val_items = to_uint8(train), to_uint8(val)
    mean, std = channel_stats(torch.stack([im for im, _ in train_items]))
    assert len(mean) == (1 if gray else 3)
    with pytest.raises(ValueError, match=r"\d-channel images but mean and std for \d channels"):
        BatchAugment([0.5] * 3, [0.2] * 3)(train_items[:2]) if gray else BatchAugment([0.5], [0.2])(train_items[:2])
    train_loader = DataLoader(train_items, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0),
                              collate_fn=BatchAugment(mean, std, flip=True))
    val_loader = DataLoader(val_items, batch_size=8, collate_fn=BatchAugment(mean, std))

    torch.manual_seed(0)
    model = SmallCNN(num_classes=3, width=8, in_channels=1 if gray else 3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=4,
                  progress=False, verbose=False)
    assert history["val_acc"][-1] >= 0.9           # the colours are easy: it learned, on the right labels

    preds, probs, targets = predict(model, val_loader, "cpu")
    matrix = confusion_matrix(preds, targets, len(train.classes))
    assert matrix.sum() == len(val) and matrix[1].sum() == 0          # no dog in val: an empty row, not a shift
    accuracy = evaluate(model, val_loader, nn.CrossEntropyLoss(), "cpu")["acc"]
    assert math.isclose(matrix.trace().item() / len(val), accuracy)
    assert probs.shape == (len(val), 3)

    resnet = CifarResNet(num_classes=3, in_channels=1 if gray else 3)
    images = next(iter(val_loader))[0]                  # (8, C, size, size): a CifarResNet takes them too
    assert resnet(images).shape == (len(images), 3)


def test_plot_confusion_matrix_draws_the_counts():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.plot import plot_confusion_matrix

    matrix = torch.tensor([[5, 1], [0, 3]])
    fig = plot_confusion_matrix(matrix, ["cat", "dog"], title="t")
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "3", "5"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"] and ax.get_title() == "t"
    _, axes = plt.subplots(1, 2)
    assert plot_confusion_matrix(matrix, ["cat", "dog"], ax=axes[1]) is axes[1].figure and axes[1].texts
    with pytest.raises(ValueError, match=r"\(3, 3\) for 3 class names"):
        plot_confusion_matrix(matrix, ["a", "b", "c"])
    plt.close("all")
