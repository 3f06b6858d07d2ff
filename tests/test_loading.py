import random

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from helpers.loading import BatchAugment, collate_pad, seed_worker


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


def test_collate_pad_without_mask_feeds_the_engine():
    from helpers.engine import evaluate

    batch = [(torch.rand(3, 4, 4), 1), (torch.rand(3, 6, 5), 0)]
    images, labels = collate_pad(batch, with_mask=False)
    assert images.shape == (2, 3, 6, 5) and labels.tolist() == [1, 0]
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2))
    assert evaluate(model, [(images, labels)], torch.nn.CrossEntropyLoss(), "cpu")["n"] == 2


class GlobalDraws(Dataset):
    """Draws from the global generators, which PyTorch seeds in every worker by itself."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.tensor([random.random(), float(np.random.rand()), torch.rand(()).item()])


class OwnGenerators(Dataset):
    """Holds generator objects of its own, copied into every worker with the same state."""

    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.transform = type("T", (), {})()
        self.transform.generator = torch.Generator().manual_seed(0)
        self.py = random.Random(0)

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.tensor([self.rng.random(), torch.rand((), generator=self.transform.generator).item(),
                             self.py.random()])


def draws(dataset, worker_init_fn, seed, **kwargs):
    loader = DataLoader(dataset, batch_size=1, num_workers=2, worker_init_fn=worker_init_fn,
                        generator=torch.Generator().manual_seed(seed), multiprocessing_context="fork", **kwargs)
    return torch.cat(list(loader))   # rows 0, 2 from worker 0; rows 1, 3 from worker 1


def test_pytorch_already_seeds_global_generators_per_worker():
    # What notebook 03 teaches: no worker_init_fn needed for random, NumPy's global RNG and torch.
    a = draws(GlobalDraws(), None, 0)
    assert torch.equal(a, draws(GlobalDraws(), None, 0))       # a seeded loader repeats
    assert (a[0] != a[1]).all()                               # the two workers differ in all three
    assert (a != draws(GlobalDraws(), None, 1)).all()


def test_seed_worker_reseeds_generator_objects_per_worker():
    plain = draws(OwnGenerators(), None, 0)
    assert torch.equal(plain[0], plain[1])                    # the bug: both workers draw the same numbers
    fixed = draws(OwnGenerators(), seed_worker, 0)
    assert (fixed[0] != fixed[1]).all()                       # every generator now differs per worker
    assert torch.equal(fixed, draws(OwnGenerators(), seed_worker, 0))   # and a seeded loader repeats
    assert not torch.equal(fixed, draws(OwnGenerators(), seed_worker, 1))


class Wrapped(Dataset):
    """A generator object buried under Subset -> dataset -> Compose-like list -> transform."""

    def __init__(self):
        holder = type("Noise", (), {})()
        holder.rng = np.random.default_rng(0)
        self.transforms = [lambda v: v, holder]

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.tensor([self.transforms[1].rng.random()])


def test_seed_worker_reaches_generators_through_subset_and_lists():
    ds = torch.utils.data.Subset(Wrapped(), range(4))
    plain = draws(ds, None, 0)
    assert torch.equal(plain[0], plain[1])
    fixed = draws(torch.utils.data.Subset(Wrapped(), range(4)), seed_worker, 0)
    assert fixed[0] != fixed[1]


def test_batch_augment_generator_survives_spawn(tmp_path):
    # spawn pickles the dataset and the collate_fn into each worker (macOS, Windows): the per-worker
    # stream still works. (The images come from files, as in practice, not from pickled tensors.)
    from helpers.datasets import TensorImageFolder

    pixels = torch.arange(3 * 8 * 8).view(3, 8, 8).to(torch.uint8).permute(1, 2, 0).numpy()
    for i in range(8):
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    dataset = TensorImageFolder([(tmp_path / f"{i}.png", 0) for i in range(8)])
    augment = BatchAugment((0.0,) * 3, (1.0,) * 3, crop_padding=2, flip=True,
                           generator=torch.Generator().manual_seed(0))
    loader = DataLoader(dataset, batch_size=4, num_workers=2, collate_fn=augment,
                        generator=torch.Generator().manual_seed(0), multiprocessing_context="spawn")
    first, second = (x for x, _ in loader)
    assert not torch.equal(first, second)


def test_batch_augment_without_augmentation_is_normalize():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    x, y = BatchAugment((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))([(im, i) for i, im in enumerate(images)])
    expected = v2.Normalize((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))(images.float() / 255)
    torch.testing.assert_close(x, expected)
    assert y.tolist() == [0, 1, 2, 3] and y.dtype == torch.int64
    nhwc, _ = BatchAugment((0.5, 0.4, 0.3), (0.2, 0.2, 0.2), channels_last=True)([(im, 0) for im in images])
    assert nhwc.is_contiguous(memory_format=torch.channels_last) and torch.equal(nhwc, x)


def test_batch_augment_crops_and_flips_each_image_independently():
    image = torch.arange(3 * 8 * 8).view(3, 8, 8).to(torch.uint8)
    augment = BatchAugment((0.0,) * 3, (1.0,) * 3, crop_padding=2, flip=True,
                           generator=torch.Generator().manual_seed(0))
    x, _ = augment([(image, 0)] * 64)
    assert x.shape == (64, 3, 8, 8)
    distinct = {tuple(v.flatten().tolist()) for v in x}
    assert len(distinct) > 10                       # different crops/flips per image
    # every output is a crop of the reflect-padded image, possibly flipped
    padded = torch.nn.functional.pad(image.float()[None] / 255, (2, 2, 2, 2), mode="reflect")[0]
    crops = {tuple(padded[:, dy:dy + 8, dx:dx + 8].flatten().tolist()) for dy in range(5) for dx in range(5)}
    crops |= {tuple(padded[:, dy:dy + 8, dx:dx + 8].flip(-1).flatten().tolist()) for dy in range(5) for dx in range(5)}
    assert distinct <= crops
    again, _ = BatchAugment((0.0,) * 3, (1.0,) * 3, crop_padding=2, flip=True,
                            generator=torch.Generator().manual_seed(0))([(image, 0)] * 64)
    assert torch.equal(x, again)


class SameImage(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.arange(3 * 8 * 8).view(3, 8, 8).to(torch.uint8), 0


def augmented_epochs(seed, epochs=2, workers=2, persistent=False):
    augment = BatchAugment((0.0,) * 3, (1.0,) * 3, crop_padding=2, flip=True,
                           generator=torch.Generator().manual_seed(0))
    loader = DataLoader(SameImage(), batch_size=4, num_workers=workers, collate_fn=augment,
                        generator=torch.Generator().manual_seed(seed), multiprocessing_context="fork",
                        persistent_workers=persistent and workers > 0)
    return [torch.cat([x for x, _ in loader]) for _ in range(epochs)]


@pytest.mark.parametrize("persistent", [False, True])
def test_batch_augment_generator_differs_per_worker_and_epoch(persistent):
    first, second = augmented_epochs(0, persistent=persistent)
    assert not torch.equal(first[:4], first[4:])              # worker 0's batch != worker 1's batch
    assert not torch.equal(first, second)                     # epoch 2 != epoch 1
    again = augmented_epochs(0, persistent=persistent)
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])   # repeatable with a seeded loader


def test_batch_augment_rejects_bad_inputs():
    with pytest.raises(TypeError, match="uint8"):
        BatchAugment((0.0,), (1.0,))([(torch.zeros(1, 4, 4), 0)])
    with pytest.raises(ValueError, match="crop_padding"):
        BatchAugment((0.0,), (1.0,), crop_padding=-1)
    with pytest.raises(ValueError, match="1-channel images but mean and std for 3 channels"):
        BatchAugment((0.5,) * 3, (0.2,) * 3)([(torch.zeros(1, 4, 4, dtype=torch.uint8), 0)])
    with pytest.raises(ValueError, match="same length"):
        BatchAugment((0.5,) * 3, (0.2,))
