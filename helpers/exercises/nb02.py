"""Checks for notebook 02 (transforms): channel statistics, a CIFAR pipeline, a Cutout transform."""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors

from helpers.exercises.core import Hint, call, exercise, expect


@exercise("02.1")
def channel_stats(answer: Any) -> str:
    """``channel_stats(images) -> (mean, std)``: per channel, over every pixel of every image, in 0..1 units."""
    g = torch.Generator().manual_seed(0)
    # Images of different brightness: the spread between images is part of the data's spread.
    brightness = torch.tensor([30.0, 110.0, 190.0, 60.0]).view(4, 1, 1, 1)
    images = (brightness + torch.randint(0, 60, (4, 3, 16, 16), generator=g)).to(torch.uint8)
    pixels = images.float() / 255
    mean, std = pixels.mean(dim=(0, 2, 3)), pixels.std(dim=(0, 2, 3))
    got = call(answer, images.clone())
    expect(isinstance(got, (tuple, list)) and len(got) == 2, "return a pair: (mean, std)")
    got_mean, got_std = (torch.as_tensor(v, dtype=torch.float32) for v in got)
    expect(got_mean.shape == (3,) and got_std.shape == (3,), f"expected one mean and one std per channel, shape (3,); "
           f"got {tuple(got_mean.shape)} and {tuple(got_std.shape)}. Reduce over images, height and width: "
           "`dim=(0, 2, 3)`")
    if got_mean.max() > 1.5:
        raise Hint(f"the means are {got_mean.tolist()}: these are 0..255 units. Convert first, as the pipeline does "
                   "before `Normalize`: `v2.ToDtype(torch.float32, scale=True)` or `/ 255`")
    expect(torch.allclose(got_mean, mean, atol=1e-3),
           f"the means should be {mean.tolist()}, and are {got_mean.tolist()}")
    per_image = pixels.std(dim=(2, 3)).mean(0)
    if torch.allclose(got_std, per_image, atol=1e-3):
        raise Hint("this std is the mean of each image's own std: it leaves out how much images differ from each "
                   "other. Take the std over all pixels of all images at once")
    expect(torch.allclose(got_std, std, atol=1e-3), f"the stds should be {std.tolist()}, and are {got_std.tolist()}")
    return "over `dim=(0, 2, 3)`, in 0..1 units: what `v2.Normalize` needs."


@exercise("02.2")
def cifar_augment(answer: Any) -> str:
    """``cifar_augment() -> transform``: reflect-padded random crop, horizontal flip, float32 in 0..1."""
    transform = call(answer)
    expect(callable(transform), f"return the transform (a `v2.Compose`), not {type(transform).__name__}")
    image = torch.full((3, 32, 32), 200, dtype=torch.uint8)
    image[:, :, 16:] = 60                                        # bright left half, dark right half
    image[:, ::2] += 20                                          # and stripes, so that a shift shows
    torch.manual_seed(0)
    draws = [transform(image.clone()) for _ in range(64)]
    out = draws[0]
    expect(isinstance(out, torch.Tensor) and out.shape == (3, 32, 32),
           f"each draw should be a (3, 32, 32) tensor; got {getattr(out, 'shape', type(out).__name__)}")
    expect(out.dtype == torch.float32, f"the output is {out.dtype}; end with `v2.ToDtype(torch.float32, scale=True)`")
    if max(float(d.max()) for d in draws) > 1.5:
        raise Hint("values above 1: pass `scale=True` to `v2.ToDtype`, which divides `uint8` by 255")
    if any(bool((d == 0).any()) for d in draws):
        raise Hint("zeros appeared at the border: that is constant padding. The exercise asks for "
                   "`padding_mode=\"reflect\"`, which mirrors the image instead")
    flipped = sum(float(d[:, :, :8].mean()) < float(d[:, :, -8:].mean()) for d in draws)
    expect(8 <= flipped <= 56, f"{flipped} of 64 draws were flipped: add `v2.RandomHorizontalFlip()` (p=0.5)")
    plain = image.float() / 255
    shifted = sum(not torch.equal(d, plain) and not torch.equal(d, plain.flip(-1)) for d in draws)
    expect(shifted >= 32, f"only {shifted} of 64 draws were moved: add `v2.RandomCrop(32, padding=4, "
                          "padding_mode=\"reflect\")`")
    return "crop with reflected padding, flip, then float: the standard CIFAR recipe."


@exercise("02.3")
def cutout(answer: Any) -> str:
    """``Cutout(size)``: a ``v2.Transform`` that zeroes one random size x size square, the same in image and mask."""
    transform = call(answer, 6)
    holes = set()
    for seed in range(6):
        torch.manual_seed(seed)
        image = tv_tensors.Image(torch.full((3, 20, 24), 200, dtype=torch.uint8))
        mask = tv_tensors.Mask(torch.ones(20, 24, dtype=torch.uint8))
        got = call(transform, image, mask)
        expect(isinstance(got, (tuple, list)) and len(got) == 2, "called with an image and a mask, the transform "
                                                                 "should return both (v2 does that for you)")
        new_image, new_mask = got
        cut = new_image == 0                                     # (3, 20, 24)
        expect(bool(cut.any()), "nothing was cut from the image: fill the square with 0")
        expect(bool((cut == cut[0]).all()), "the hole differs between channels: cut the same square from all of "
                                            "them, `image[..., top:top + size, left:left + size] = 0`")
        rows, cols = cut[0].any(1).nonzero().flatten(), cut[0].any(0).nonzero().flatten()
        expect(int(cut[0].sum()) == 36 and len(rows) == 6 and len(cols) == 6,
               f"the hole is {len(rows)} x {len(cols)} pixels ({int(cut[0].sum())} in all); it should be a 6 x 6 "
               "square, wholly inside the image")
        expect(bool((new_image[~cut] == 200).all()), "pixels outside the hole changed")
        if not torch.equal(new_mask == 0, cut[0]):
            raise Hint("the mask's hole is not where the image's is: draw the position once per call in "
                       "`make_params` and use `params` in `transform`, which runs once for the image and once for "
                       "the mask")
        holes.add((int(rows[0]), int(cols[0])))
    expect(len(holes) > 1, "the hole was in the same place every time: draw `top` and `left` with "
                           "`torch.randint` in `make_params`")
    return "one draw in `make_params`, applied by `transform` to the image and the mask alike."
