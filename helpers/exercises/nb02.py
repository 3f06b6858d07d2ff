"""Checks for notebook 02 (transforms): channel statistics, a CIFAR pipeline, a Cutout transform."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F
from torchvision import tv_tensors

from helpers.exercises.core import Check, Hint, call, expect


def pixel_stats(answer: Any) -> str:
    """``pixel_stats(images) -> (mean, std)``: per channel, over every pixel of every image, in 0..1 units."""
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


def cifar_augment(answer: Any) -> str:
    """``cifar_augment() -> transform``: reflect-padded random crop, horizontal flip, float32 in 0..1."""
    transform = call(answer)
    expect(callable(transform), f"return the transform (a `v2.Compose`), not {type(transform).__name__}")
    rows, cols = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    # Every pixel different and none 0: each draw shows where it was cut from, and zero padding shows.
    image = torch.stack([8 * rows + 4, 8 * cols + 4, torch.full_like(rows, 100)]).to(torch.uint8)   # (3, 32, 32)
    windows = {}
    for name, padded in (("reflect", F.pad(image.float()[None], [4] * 4, mode="reflect")[0]),
                         ("zeros", F.pad(image.float()[None], [4] * 4)[0])):
        for dy in range(9):
            for dx in range(9):
                window = padded[:, dy:dy + 32, dx:dx + 32] / 255
                windows[(name, dy, dx, False)], windows[(name, dy, dx, True)] = window, window.flip(-1)
    torch.manual_seed(0)
    draws = [call(transform, image.clone()) for _ in range(64)]
    out = draws[0]
    expect(isinstance(out, torch.Tensor) and out.shape == (3, 32, 32),
           f"each draw should be a (3, 32, 32) tensor; got {getattr(out, 'shape', type(out).__name__)}")
    expect(out.dtype == torch.float32, f"the output is {out.dtype}; end with `v2.ToDtype(torch.float32, scale=True)`")
    if max(float(d.max()) for d in draws) > 1.5:
        raise Hint("values above 1: pass `scale=True` to `v2.ToDtype`, which divides `uint8` by 255")
    expect(min(float(d.min()) for d in draws) >= 0, "values below 0: this pipeline ends at float32 in 0..1, without "
                                                   "`Normalize` (that comes later, with the dataset's statistics)")
    found = []
    for d in draws:
        match = next((key for key, window in windows.items() if torch.allclose(d, window, atol=1e-6)), None)
        if match is None:
            raise Hint("a draw is not a 32 x 32 window of the image padded by 4 reflected pixels (flipped or "
                       "not): `v2.RandomCrop(32, padding=4, padding_mode=\"reflect\")`, then "
                       "`v2.RandomHorizontalFlip()`, then `v2.ToDtype(torch.float32, scale=True)`")
        found.append(match)
    if any(name == "zeros" for name, *_ in found):              # an unshifted window matches "reflect" first
        raise Hint("zeros appeared at the border: that is constant padding. The exercise asks for "
                   "`padding_mode=\"reflect\"`, which mirrors the image instead")
    flipped = sum(f for *_, f in found)
    expect(8 <= flipped <= 56, f"{flipped} of 64 draws were flipped: flip half of them, `v2.RandomHorizontalFlip()` "
                               "(p=0.5 is its default)")
    offsets = {(dy, dx) for _, dy, dx, _ in found}
    expect(len(offsets) > 8, f"the draws came from only {len(offsets)} position(s): add `v2.RandomCrop(32, "
                             "padding=4, padding_mode=\"reflect\")`")
    expect(any(dy in (0, 8) or dx in (0, 8) for dy, dx in offsets), "no draw was shifted by 4 pixels: pad by 4 "
                                                                     "(`padding=4`)")
    return "crop with reflected padding, flip, then float: the standard CIFAR recipe."


def cutout(answer: Any) -> str:
    """``Cutout(size)``: a ``v2.Transform`` that zeroes one random size x size square, the same in image and mask."""
    transform = call(answer, 6)
    holes = set()
    for seed in range(48):
        torch.manual_seed(seed)
        image = tv_tensors.Image(torch.full((3, 8, 9), 200, dtype=torch.uint8))
        mask = tv_tensors.Mask(torch.ones(8, 9, dtype=torch.uint8))
        got = call(transform, image, mask, hints=[("Mask", "`v2.functional` functions such as `erase` take images, "
                                                   "not masks: cut the square by indexing, `out[..., top:top + size, "
                                                   "left:left + size] = 0` on a clone.")])
        expect(bool((image == 200).all()) and bool((mask == 1).all()), "the transform changed the tensors it was "
               "given: cut the hole in a copy (`inpt.clone()`), the caller may still need the original")
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
               "square, wholly inside the image: `top` from 0 to H - size, `left` from 0 to W - size")
        expect(bool((new_image[~cut] == 200).all()), "pixels outside the hole changed")
        if not torch.equal(new_mask == 0, cut[0]):
            raise Hint("the mask's hole is not where the image's is: draw the position once per call in "
                       "`make_params` and use `params` in `transform`, which runs once for the image and once for "
                       "the mask")
        holes.add((int(rows[0]), int(cols[0])))
    expect(len(holes) > 1, "the hole was in the same place every time: draw `top` and `left` with "
                           "`torch.randint` in `make_params`")
    tops, lefts = {top for top, _ in holes}, {left for _, left in holes}
    expect(tops == {0, 1, 2} and lefts == {0, 1, 2, 3}, f"on an 8 x 9 image a 6 x 6 hole can start at rows 0..2 and "
           f"columns 0..3; yours started at rows {sorted(tops)}, columns {sorted(lefts)} over 48 draws. Draw `top` "
           "from 0 to H - size inclusive: `torch.randint(0, H - size + 1, ())`")
    return "one draw in `make_params`, applied by `transform` to the image and the mask alike."


CHECKS: dict[str, Check] = {"02.1": pixel_stats, "02.2": cifar_augment, "02.3": cutout}
