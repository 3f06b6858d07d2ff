import random

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from helpers.data import DataError
from helpers.loading import TensorImageFolder, collate_pad, seed_worker


def test_collate_pad_pads_and_masks():
    batch = [(torch.ones(3, 2, 4), 1), (torch.full((3, 5, 3), 2.0), 0)]
    images, mask, labels = collate_pad(batch, fill=-1)
    assert images.shape == (2, 3, 5, 4) and mask.shape == (2, 5, 4)
    assert labels.tolist() == [1, 0] and labels.dtype == torch.int64
    assert torch.equal(images[0, :, :2, :], torch.ones(3, 2, 4))
    assert (images[0, :, 2:, :] == -1).all() and (images[1, :, :, 3] == -1).all()
    assert mask.sum(dim=(1, 2)).tolist() == [8, 15]
    # the mask marks exactly the real pixels
    assert torch.equal(images[mask.unsqueeze(1).expand_as(images)].sum(), torch.tensor(8 * 3 + 15 * 3 * 2.0))


def test_collate_pad_equals_default_collate_for_same_sizes():
    batch = [(torch.rand(3, 4, 4), i) for i in range(3)]
    images, mask, labels = collate_pad(batch)
    default_images, default_labels = torch.utils.data.default_collate(batch)
    assert torch.equal(images, default_images) and torch.equal(labels, default_labels) and mask.all()


def test_collate_pad_rejects_bad_batches():
    with pytest.raises(ValueError, match="empty"):
        collate_pad([])
    with pytest.raises(ValueError, match="one channel count"):
        collate_pad([(torch.rand(3, 4, 4), 0), (torch.rand(1, 4, 4), 0)])


class RandomNumbers(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.tensor([random.random(), float(np.random.rand()), torch.rand(()).item()])


def draws(worker_init_fn, seed):
    loader = DataLoader(RandomNumbers(), batch_size=1, num_workers=2, worker_init_fn=worker_init_fn,
                        generator=torch.Generator().manual_seed(seed), multiprocessing_context="fork")
    return torch.cat(list(loader))


def test_seed_worker_makes_random_and_numpy_repeatable_and_distinct_per_worker():
    a, b = draws(seed_worker, 0), draws(seed_worker, 0)
    assert torch.equal(a, b)                      # same generator seed -> same numbers, all three libraries
    assert not torch.equal(a[0], a[1])            # worker 0 and worker 1 differ
    assert not torch.equal(a, draws(seed_worker, 1))


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
    from helpers.loading import TextLinesStream

    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(10)))
    loader = DataLoader(TextLinesStream(path), batch_size=None, num_workers=workers)
    assert sorted(loader) == sorted(f"line {i}" for i in range(10))


def test_text_lines_stream_unsplit_duplicates_per_worker(tmp_path):
    from helpers.loading import TextLinesStream

    path = tmp_path / "lines.txt"
    path.write_text("a\nb\nc\n")
    loader = DataLoader(TextLinesStream(path, split_across_workers=False), batch_size=None, num_workers=2)
    assert sorted(loader) == ["a", "a", "b", "b", "c", "c"]
    with pytest.raises(DataError, match="text file not found"):
        TextLinesStream(tmp_path / "missing.txt")
