"""Checks for notebook 01 (datasets): counting labels, a stratified split, parsing a labels file."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from helpers.exercises.core import Check, Hint, call, expect, pair


class _Folder:
    """An ``ImageFolder`` stand-in that counts the images it is asked to load."""

    def __init__(self) -> None:
        self.classes = ["ants", "bees", "wasps"]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.targets = [0] * 7 + [1] * 4 + [2] * 2
        self.samples = [(f"{self.classes[t]}/{i}.jpg", t) for i, t in enumerate(self.targets)]
        self.imgs = self.samples                                 # ImageFolder's older name for samples
        self.loaded = 0

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = self.targets[index]                              # IndexError past the end ends a for loop
        self.loaded += 1
        return torch.zeros(3, 8, 8), label


def class_counts(answer: Any) -> str:
    """``class_counts(dataset) -> dict[str, int]``: images per class name, without loading any image."""
    folder = _Folder()
    got = call(answer, folder)
    expect(isinstance(got, dict), f"return a dict from class name to count, not {type(got).__name__}")
    if set(got) == {0, 1, 2}:
        raise Hint("the keys are label numbers; use the class names, `dataset.classes[label]`")
    expect(dict(got) == {"ants": 7, "bees": 4, "wasps": 2},
           f"expected {{'ants': 7, 'bees': 4, 'wasps': 2}}, got {dict(got)}")
    expect(folder.loaded == 0, f"right, but you loaded {folder.loaded} images to count labels. `dataset.targets` "
                               "holds every label already: count those (`collections.Counter`)")
    return "`Counter(dataset.targets)`, with `dataset.classes` for the names: no image opened."


def stratified_split(answer: Any) -> str:
    """``stratified_split(targets, val_fraction, seed) -> (train_indices, val_indices)``, every class's share kept."""
    g = torch.Generator().manual_seed(0)
    # 13 * 0.2 = 2.6 and 11 * 0.2 = 2.2: round() gives 3 and 2, int() 2 and 2, ceil() 3 and 3
    labels = torch.tensor([0] * 40 + [1] * 25 + [2] * 10 + [3] * 13 + [4] * 11)
    targets = [int(t) for t in labels[torch.randperm(99, generator=g)]]
    sizes = Counter(targets)
    seen = []
    for seed in range(4):
        got = call(answer, list(targets), 0.2, seed)
        train, val = ([int(i) for i in part] for part in pair(got, "(train, val), two lists of indices"))
        expect(not set(train) & set(val), f"indices {sorted(set(train) & set(val))[:5]} are in both parts: "
                                          "each index goes to exactly one")
        expect(sorted(train + val) == list(range(99)), "train and val together must hold every index 0..98 once; "
                                                       "these are indices into the dataset, not labels")
        expect(len(train) > len(val), f"train has {len(train)} indices and val {len(val)}: return (train, val), "
                                      "in that order")
        in_val = {c: sum(targets[i] == c for i in val) for c in sizes}
        for c, n in sizes.items():                               # first: is every class's share about right?
            expect(abs(in_val[c] - 0.2 * n) < 1, f"class {c} has {n} images and {in_val[c]} of them in val (seed "
                   f"{seed}); 20 % is {0.2 * n:g}. Split each class's indices separately, then join them")
        for c, n in sizes.items():                               # then: rounded as asked?
            expect(in_val[c] == round(n * 0.2), f"class {c} has {n} images and {in_val[c]} of them in val; {n} x 0.2 "
                   f"= {0.2 * n:g}, which rounds to {round(n * 0.2)}: use `round()`, not `int()` (which cuts the "
                   "decimals off) or `math.ceil()` (which rounds up)")
        seen.append(sorted(val))
    again = pair(call(answer, list(targets), 0.2, 0), "(train, val)")
    expect(sorted(int(i) for i in again[1]) == seen[0], "the same seed gave a different split: draw with "
                                                        "`torch.Generator().manual_seed(seed)`")
    expect(len({tuple(v) for v in seen}) > 1, "every seed gave the same val set: shuffle each class's indices with "
                                              "a generator seeded by `seed` before cutting")
    return "every class keeps its share, and the seed makes the split repeatable."


def parse_labels_line(answer: Any) -> str:
    """``parse_labels_line(line, num_classes) -> (path, label)``: one line of a labels file, or a clear ValueError."""
    for line, expected in [("ants/0013035.jpg 0\n", ("ants/0013035.jpg", 0)),
                           ("  bees/16838648_415acd9e3f.jpg 1  ", ("bees/16838648_415acd9e3f.jpg", 1)),
                           ("my photos/bee 2.jpg 1", ("my photos/bee 2.jpg", 1))]:
        got = call(answer, line, 2, hints=[("too many values to unpack", "a file name may contain spaces: split "
                                            "once, from the right: `line.rsplit(maxsplit=1)`."),
                                           ("ValueError", f"{line.strip()!r} is a valid line: the path may contain "
                                            "spaces, the label is what follows the last one.")])
        expect(tuple(got) == expected, f"{line!r} should give {expected}, and gave {got!r}"
               + (": the label is an int" if isinstance(got, tuple) and got and got[-1] == str(expected[1]) else ""))
    for bad, why in [("ants/1.jpg", "has no label"), ("ants/1.jpg x", "has a label that is not a number"),
                     ("ants/1.jpg 2", "has label 2 with 2 classes (0 and 1)"),
                     ("ants/1.jpg 1.5", "has a label that is not a whole number"),
                     ("ants/1.jpg -1", "has a negative label")]:
        try:
            got = answer(bad, 2)
        except ValueError as error:
            expect(bad.split()[0] in str(error), f"the ValueError for {bad!r} says {str(error)!r}: name the line "
                   "(or the file in it), so the person fixing the labels file can find it")
            continue
        except Exception as error:
            raise Hint(f"{bad!r} {why}, and raised {type(error).__name__}: {error}. Raise a ValueError that names "
                       "the line instead") from error
        raise Hint(f"{bad!r} {why}, and was accepted as {got!r}: raise a ValueError that names the line")
    return "spaces in names, surrounding whitespace, and a ValueError naming each bad line."


CHECKS: dict[str, Check] = {"01.1": class_counts, "01.2": stratified_split, "01.3": parse_labels_line}
