"""Notebook 02, transforms: channel statistics, a CIFAR pipeline, a Cutout transform."""

import torch
from torchvision.transforms import v2


def pixel_stats(images):
    pixels = images.float() / 255                                # (N, 3, H, W) in 0..1
    return pixels.mean(dim=(0, 2, 3)), pixels.std(dim=(0, 2, 3))


def cifar_augment():
    return v2.Compose([
        v2.RandomCrop(32, padding=4, padding_mode="reflect"),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
    ])


class Cutout(v2.Transform):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def make_params(self, flat_inputs):                          # once per call: one hole for image and mask
        height, width = v2.query_size(flat_inputs)
        top = int(torch.randint(0, height - self.size + 1, ()))
        left = int(torch.randint(0, width - self.size + 1, ()))
        return {"top": top, "left": left}

    def transform(self, inpt, params):
        out = inpt.clone()
        out[..., params["top"]:params["top"] + self.size, params["left"]:params["left"] + self.size] = 0
        return out


SOLUTIONS = {"02.1": pixel_stats, "02.2": cifar_augment, "02.3": Cutout}


def _stats_in_bytes(images):
    pixels = images.float()
    return pixels.mean(dim=(0, 2, 3)), pixels.std(dim=(0, 2, 3))


def _mean_of_image_stds(images):
    pixels = images.float() / 255
    return pixels.mean(dim=(0, 2, 3)), pixels.std(dim=(2, 3)).mean(0)


def _zero_padding():
    return v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True)])


def _no_flip():
    return v2.Compose([v2.RandomCrop(32, padding=4, padding_mode="reflect"), v2.ToDtype(torch.float32, scale=True)])


class _CutoutDrawnPerInput(Cutout):
    def transform(self, inpt, params):                           # a new position for the image and for the mask
        return super().transform(inpt, self.make_params([inpt]))


class _CutoutMayLeave(Cutout):
    def make_params(self, flat_inputs):                          # the hole may start too close to the edge
        height, width = v2.query_size(flat_inputs)
        return {"top": int(torch.randint(0, height, ())), "left": int(torch.randint(0, width, ()))}


def _pad_then_crop():
    return v2.Compose([v2.Pad(4, padding_mode="reflect"), v2.RandomCrop(32), v2.RandomHorizontalFlip(),
                       v2.ToDtype(torch.float32, scale=True)])


def _no_crop():
    return v2.Compose([v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True)])


def _padding_2():
    return v2.Compose([v2.RandomCrop(32, padding=2, padding_mode="reflect"), v2.RandomHorizontalFlip(),
                       v2.ToDtype(torch.float32, scale=True)])


class _CutoutInPlace(Cutout):
    def transform(self, inpt, params):                           # zeroes the caller's tensor
        inpt[..., params["top"]:params["top"] + self.size, params["left"]:params["left"] + self.size] = 0
        return inpt


class _CutoutNeverAtTheEdge(Cutout):
    def make_params(self, flat_inputs):                          # randint's end is exclusive: one short
        height, width = v2.query_size(flat_inputs)
        return {"top": int(torch.randint(0, height - self.size, ())),
                "left": int(torch.randint(0, width - self.size, ()))}


MISTAKES = {
    "02.1": [(_stats_in_bytes, "0..255 units"), (_mean_of_image_stds, "mean of each image's own std")],
    "02.2": [
        (_zero_padding, "zeros appeared at the border"),
        (_no_flip, "of 64 draws were flipped"),
        (_no_crop, "only 1 position"),
        (_padding_2, "no draw was shifted by 4"),
    ],
    "02.3": [
        (_CutoutDrawnPerInput, "draw the position once per call in `make_params`"),
        (_CutoutMayLeave, "wholly inside the image"),
        (_CutoutInPlace, "changed the tensors it was given"),
        (_CutoutNeverAtTheEdge, "inclusive"),
    ],
}

#: Correct answers written another way: the checks must accept them too.
ALTERNATIVES = {
    "02.2": [_pad_then_crop],
}
