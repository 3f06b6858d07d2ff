from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from helpers.datasets import ImageFileDataset, LabelFileDataset, TensorImageFolder, TextLinesStream
from helpers.files import DataError, is_image_file, load_rgb

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
    ("cats/a.jpg\n", r"labels\.txt:1: expected '<path> <label>'"),
    ("cats/a.jpg 0\ncats/a.jpg cat\n", r"labels\.txt:2: expected"),
    ("cats/a.jpg -1\n", r"labels\.txt:1: expected .*integer >= 0"),
    ("cats/a.jpg --1\n", r"labels\.txt:1: expected .*integer >= 0"),
    ("cats/a.jpg ²\n", r"labels\.txt:1: expected"),
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


def test_tensor_image_folder_matches_pil_decoding(tmp_path):
    for cls, color in (("a", (250, 10, 10)), ("b", (10, 250, 10))):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (8, 6), color).save(tmp_path / cls / "x.png")
        Image.new("L", (8, 6), 99).save(tmp_path / cls / "y.png")
    folder = ImageFolder(tmp_path, transform=v2.PILToTensor())
    ours = TensorImageFolder(folder.samples)
    assert len(ours) == 4
    for i in range(4):
        image, label = ours[i]
        assert image.dtype == torch.uint8 and image.shape == (3, 6, 8)
        assert torch.equal(image, folder[i][0]) and label == folder[i][1]


def test_tensor_image_folder_names_a_bad_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a jpeg")
    with pytest.raises(DataError, match=r"cannot decode .*bad\.jpg"):
        TensorImageFolder([(bad, 0)])[0]


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_text_lines_stream_yields_each_line_once(tmp_path, workers):
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(10)))
    loader = DataLoader(TextLinesStream(path), batch_size=None, num_workers=workers)
    assert sorted(loader) == sorted(f"line {i}" for i in range(10))


def test_text_lines_stream_unsplit_duplicates_per_worker(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a\nb\nc\n")
    loader = DataLoader(TextLinesStream(path, split_across_workers=False), batch_size=None, num_workers=2)
    assert sorted(loader) == ["a", "a", "b", "b", "c", "c"]
    with pytest.raises(DataError, match="text file not found"):
        TextLinesStream(tmp_path / "missing.txt")


def test_is_image_file_takes_one_extension_or_several():
    assert is_image_file("a.PNG", ".png") and not is_image_file("a.jpg", ".png")
    assert not is_image_file("a.g", ".png")          # a string is one ending, not the endings "." "p" "n" "g"
    assert is_image_file("a.jpeg", (".jpg", ".jpeg")) and is_image_file("a.webp")
