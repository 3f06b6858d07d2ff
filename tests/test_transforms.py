import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from helpers.transforms import AddGaussianNoise, SquarePad


@pytest.mark.parametrize("shape,expected",
                         [((3, 20, 30), (3, 30, 30)), ((3, 31, 10), (3, 31, 31)), ((1, 8, 8), (1, 8, 8))])
def test_square_pad_makes_square_and_centres(shape, expected):
    image = torch.ones(shape)
    out = SquarePad(fill=0)(image)
    assert out.shape == expected
    assert out.sum() == image.sum()  # the original pixels are all still there
    h, w = shape[1:]
    top, left = (expected[1] - h) // 2, (expected[2] - w) // 2
    assert torch.equal(out[:, top:top + h, left:left + w], image)


def test_square_pad_matches_v2_pad_and_handles_pil_and_batches():
    image = torch.randint(0, 256, (3, 10, 16), dtype=torch.uint8)
    torch.testing.assert_close(SquarePad(fill=7)(image), v2.Pad([0, 3, 0, 3], fill=7)(image))
    pil = Image.new("RGB", (16, 10))
    assert SquarePad()(pil).size == (16, 16)
    batch = torch.zeros(4, 3, 10, 16)
    assert SquarePad()(batch).shape == (4, 3, 16, 16)


def test_square_pad_keeps_image_and_mask_aligned():
    image = tv_tensors.Image(torch.zeros(3, 10, 16))
    mask = tv_tensors.Mask(torch.ones(10, 16))
    out_image, out_mask, label = SquarePad()(image, mask, 3)
    assert out_image.shape[-2:] == out_mask.shape[-2:] == (16, 16)
    assert out_mask[:3].sum() == 0 and out_mask[3:13].sum() == 160 and label == 3


def test_square_pad_then_resize_keeps_aspect_ratio():
    pipeline = v2.Compose([SquarePad(), v2.Resize((32, 32))])
    assert pipeline(torch.ones(3, 50, 100)).shape == (3, 32, 32)


def test_gaussian_noise_is_seeded_and_clamped():
    image = torch.full((3, 8, 8), 0.5)
    a = AddGaussianNoise(0.2, generator=torch.Generator().manual_seed(0))(image)
    b = AddGaussianNoise(0.2, generator=torch.Generator().manual_seed(0))(image)
    assert torch.equal(a, b) and not torch.equal(a, image)
    assert a.min() >= 0 and a.max() <= 1
    assert abs((a - image).std().item() - 0.2) < 0.05
    assert torch.equal(AddGaussianNoise(0.0)(image), image)


def test_gaussian_noise_rejects_what_it_cannot_handle():
    with pytest.raises(TypeError, match="after v2.ToDtype"):
        AddGaussianNoise(0.1)(torch.zeros(3, 4, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="PIL|Image"):
        AddGaussianNoise(0.1)(Image.new("RGB", (4, 4)))
    with pytest.raises(ValueError, match="std"):
        AddGaussianNoise(-1)


def test_gaussian_noise_generator_differs_per_worker():
    class Noisy(torch.utils.data.Dataset):
        def __init__(self):
            self.transform = AddGaussianNoise(0.1, generator=torch.Generator().manual_seed(0))

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return self.transform(torch.full((1, 2, 2), 0.5))

    loader = torch.utils.data.DataLoader(Noisy(), batch_size=1, num_workers=2, multiprocessing_context="fork",
                                         generator=torch.Generator().manual_seed(0))
    a, b = list(loader)                                   # one sample from each worker
    assert not torch.equal(a, b)
