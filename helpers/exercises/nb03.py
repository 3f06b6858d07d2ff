"""Checks for notebook 03 (DataLoader): a centring collate function, sampler weights, a stream split into blocks."""

from __future__ import annotations

from typing import Any

import torch

from helpers.exercises.core import Check, Hint, call, expect


def collate_center(answer: Any) -> str:
    """``collate_center(samples) -> (images, labels)``: pad every image to the largest, centred, with zeros."""
    sizes = [(6, 7), (10, 9), (9, 14)]                           # (H, W): tallest and widest differ, neither first
    samples = [(torch.full((3, h, w), float(i + 1)), i) for i, (h, w) in enumerate(sizes)]
    got = call(answer, [(image.clone(), label) for image, label in samples],
               hints=[("must match the existing size", "the batch must fit the largest image: take the largest "
                       "height and the largest width over all samples, not the first image's.")])
    expect(isinstance(got, (tuple, list)) and len(got) == 2, "return a pair: (images, labels)")
    images, labels = got
    expect(isinstance(labels, torch.Tensor) and labels.dtype == torch.int64,
           f"labels should be one int64 tensor (`torch.tensor(labels)`), not {type(labels).__name__}"
           + (f" of {labels.dtype}" if isinstance(labels, torch.Tensor) else ""))
    expect(labels.tolist() == [0, 1, 2], f"labels should be [0, 1, 2] in the samples' order, got {labels.tolist()}")
    expect(isinstance(images, torch.Tensor) and tuple(images.shape) == (3, 3, 10, 14),
           f"images should be one tensor (3, 3, 10, 14): the largest height and width; got "
           f"{getattr(images, 'shape', type(images).__name__)}")
    for i, (h, w) in enumerate(sizes):
        top, left = (10 - h) // 2, (14 - w) // 2
        where = (images[i, 0] == i + 1).nonzero()
        expect(len(where) == h * w, f"image {i} ({h}x{w}) is not all there, or padding is not 0")
        found = (int(where[:, 0].min()), int(where[:, 1].min()))
        if found == (0, 0) and (top, left) != (0, 0):
            raise Hint(f"image {i} ({h}x{w}) sits in the top-left corner; centre it: top = (H - h) // 2 = {top}, "
                       f"left = (W - w) // 2 = {left}")
        expect(found == (top, left), f"image {i} ({h}x{w}) starts at row {found[0]}, column {found[1]}; centred it "
                                     f"starts at ({top}, {left}): top = (H - h) // 2, left = (W - w) // 2")
        padding = 3 * (10 * 14 - h * w)
        expect(int((images[i] == 0).sum()) == padding, f"around image {i} there should be {padding} zeros of padding "
                                                       f"and there are {int((images[i] == 0).sum())}: pad with 0")
    return "padded to the largest size, centred, labels as one int64 tensor."


def balanced_weights(answer: Any) -> str:
    """``balanced_weights(targets) -> tensor``: one weight per sample for ``WeightedRandomSampler``, classes equal."""
    targets = [0] * 60 + [1] * 30 + [2] * 10
    got = call(answer, list(targets))
    weights = torch.as_tensor(got, dtype=torch.float64)
    if weights.shape == (3,):
        raise Hint("these are 3 weights, one per class; `WeightedRandomSampler` wants one per sample "
                   "(100 here): `weights = per_class[targets]`")
    expect(weights.shape == (100,), f"expected one weight per sample, shape (100,), got {tuple(weights.shape)}")
    expect(bool((weights > 0).all()), "every sample needs a positive weight, or it is never drawn")
    share = torch.stack([weights[torch.tensor(targets) == c].sum() for c in range(3)])
    share = share / share.sum()
    if share[0] > share[2]:
        raise Hint(f"the classes would be drawn in shares {[round(s, 2) for s in share.tolist()]}: the common class "
                   "got more weight. Weight each sample by 1 / (its class's count)")
    expect(torch.allclose(share, torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-6),
           f"the classes would be drawn in shares {[round(s, 3) for s in share.tolist()]}; each should get 1/3")
    return "1 / count per sample: every class is drawn equally often."


def block_for_worker(answer: Any) -> str:
    """``block_for_worker(n, worker_id, num_workers) -> range``: a contiguous block, all blocks covering 0..n-1."""
    for n, workers in [(10, 3), (12, 4), (5, 1), (2, 3)]:
        blocks = [list(call(answer, n, w, workers)) for w in range(workers)]
        every = sorted(i for block in blocks for i in block)
        if len(every) < n:
            lost = n - len(every)
            raise Hint(f"with {n} lines and {workers} workers, {lost} line{'s' * (lost > 1)} never came out: with "
                       f"`n // num_workers` per worker the remainder is lost. Spread it: the first `n % num_workers` "
                       "workers take one more")
        expect(every == list(range(n)), f"with {n} lines and {workers} workers the blocks hold {every}: every line "
                                        "once")
        for w, block in enumerate(blocks):
            expect(block == list(range(block[0], block[0] + len(block))) if block else True,
                   f"worker {w}'s lines {block} are not one block: give each worker a contiguous range")
        lengths = [len(b) for b in blocks]
        expect(max(lengths) - min(lengths) <= 1, f"block sizes {lengths} for {n} lines: keep them within one line "
                                                 "of each other, so no worker waits for another")
    return "contiguous blocks, sizes within one line, every line once."


CHECKS: dict[str, Check] = {"03.1": collate_center, "03.2": balanced_weights, "03.3": block_for_worker}
