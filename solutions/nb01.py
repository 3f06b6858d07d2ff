"""Notebook 01, datasets: counting labels, a stratified split, parsing a labels file."""

from collections import Counter

import torch


def class_counts(dataset):
    counts = Counter(dataset.targets)
    return {dataset.classes[label]: n for label, n in sorted(counts.items())}


def stratified_split(targets, val_fraction, seed):
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for label in sorted(set(targets)):
        indices = [i for i, t in enumerate(targets) if t == label]
        shuffled = [indices[j] for j in torch.randperm(len(indices), generator=generator)]
        n_val = round(len(indices) * val_fraction)
        val += shuffled[:n_val]
        train += shuffled[n_val:]
    return train, val


def parse_labels_line(line, num_classes):
    parts = line.strip().rsplit(maxsplit=1)
    if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
        raise ValueError(f"bad line in the labels file, expected '<path> <label>': {line.strip()!r}")
    path, label = parts[0], int(parts[1])
    if not 0 <= label < num_classes:
        raise ValueError(f"label {label} is outside 0..{num_classes - 1} in the line {line.strip()!r}")
    return path, label


SOLUTIONS = {"01.1": class_counts, "01.2": stratified_split, "01.3": parse_labels_line}


def _counts_by_loading(dataset):
    counts = Counter(label for _, label in dataset)
    return {dataset.classes[label]: n for label, n in counts.items()}


def _counts_by_number(dataset):
    return dict(Counter(dataset.targets))


def _plain_random_split(targets, val_fraction, seed):
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = round(len(targets) * val_fraction)
    return order[n_val:], order[:n_val]


def _split_on_spaces(line, num_classes):
    path, label = line.split()
    return path, int(label)


def _no_range_check(line, num_classes):
    parts = line.strip().rsplit(maxsplit=1)
    if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
        raise ValueError(f"bad line in the labels file: {line.strip()!r}")
    return parts[0], int(parts[1])


def _split_with_int(targets, val_fraction, seed):
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for label in sorted(set(targets)):
        indices = [i for i, t in enumerate(targets) if t == label]
        shuffled = [indices[j] for j in torch.randperm(len(indices), generator=generator)]
        n_val = int(len(indices) * val_fraction)
        val += shuffled[:n_val]
        train += shuffled[n_val:]
    return train, val


def _split_swapped(targets, val_fraction, seed):
    train, val = stratified_split(targets, val_fraction, seed)
    return val, train


def _float_label(line, num_classes):
    parts = line.strip().rsplit(maxsplit=1)
    try:
        path, label = parts[0], int(float(parts[1]))             # accepts '1.5' as 1
    except (IndexError, ValueError):
        raise ValueError(f"no number label in the line {line.strip()!r}") from None
    if not 0 <= label < num_classes:
        raise ValueError(f"label {label} is out of range in the line {line.strip()!r}")
    return path, label


def _split_with_ceil(targets, val_fraction, seed):
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for label in sorted(set(targets)):
        indices = [i for i, t in enumerate(targets) if t == label]
        shuffled = [indices[j] for j in torch.randperm(len(indices), generator=generator)]
        n_val = -(-len(indices) * val_fraction // 1)             # rounds up
        val += shuffled[:int(n_val)]
        train += shuffled[int(n_val):]
    return train, val


MISTAKES = {
    "01.1": [(_counts_by_loading, "you loaded 13 images to count labels"), (_counts_by_number, "use the class names")],
    "01.2": [
        (_plain_random_split, "Split each class's indices separately"),
        (_split_with_int, "use `round()`"),
        (_split_swapped, "in that order"),
        (_split_with_ceil, "use `round()`"),
    ],
    "01.3": [
        (_split_on_spaces, "rsplit(maxsplit=1)"),
        (_no_range_check, "was accepted"),
        (_float_label, "not a whole number"),
    ],
}
