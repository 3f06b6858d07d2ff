"""Notebook 03, DataLoader: a centring collate function, sampler weights, a stream split into blocks."""

import torch


def collate_center(samples):
    height = max(image.shape[1] for image, _ in samples)
    width = max(image.shape[2] for image, _ in samples)
    batch = torch.zeros(len(samples), samples[0][0].shape[0], height, width, dtype=samples[0][0].dtype)
    for i, (image, _) in enumerate(samples):
        h, w = image.shape[1:]
        top, left = (height - h) // 2, (width - w) // 2
        batch[i, :, top:top + h, left:left + w] = image
    return batch, torch.tensor([label for _, label in samples])


def balanced_weights(targets):
    targets = torch.as_tensor(targets)
    per_class = 1.0 / torch.bincount(targets).double()          # rarer class, larger weight
    return per_class[targets]                                    # one weight per sample


def block_for_worker(n, worker_id, num_workers):
    size, extra = divmod(n, num_workers)                         # the first `extra` workers take one more
    start = worker_id * size + min(worker_id, extra)
    return range(start, start + size + (worker_id < extra))


SOLUTIONS = {"03.1": collate_center, "03.2": balanced_weights, "03.3": block_for_worker}


def _collate_top_left(samples):
    height = max(image.shape[1] for image, _ in samples)
    width = max(image.shape[2] for image, _ in samples)
    batch = torch.zeros(len(samples), samples[0][0].shape[0], height, width)
    for i, (image, _) in enumerate(samples):
        batch[i, :, :image.shape[1], :image.shape[2]] = image
    return batch, torch.tensor([label for _, label in samples])


def _collate_label_list(samples):
    images, _ = collate_center(samples)
    return images, [label for _, label in samples]


def _weights_per_class(targets):
    return 1.0 / torch.bincount(torch.as_tensor(targets)).double()


def _weights_by_count(targets):
    targets = torch.as_tensor(targets)
    return torch.bincount(targets).double()[targets]


def _blocks_floor(n, worker_id, num_workers):
    size = n // num_workers
    return range(worker_id * size, (worker_id + 1) * size)


def _collate_first_size(samples):
    _, height, width = samples[0][0].shape                       # the first image is not always the largest
    batch = torch.zeros(len(samples), samples[0][0].shape[0], height, width)
    for i, (image, _) in enumerate(samples):
        h, w = image.shape[1:]
        top, left = (height - h) // 2, (width - w) // 2
        batch[i, :, top:top + h, left:left + w] = image
    return batch, torch.tensor([label for _, label in samples])


def _collate_pad_minus_one(samples):
    images, labels = collate_center(samples)
    covered, _ = collate_center([(torch.ones_like(image), label) for image, label in samples])
    images[covered == 0] = -1.0                                  # the same placement, padded with -1 instead of 0
    return images, labels


MISTAKES = {
    "03.1": [
        (_collate_top_left, "sits in the top-left corner"),
        (_collate_label_list, "one int64 tensor"),
        (_collate_first_size, "the largest height and the largest width"),
        (_collate_pad_minus_one, "pad with 0"),
    ],
    "03.2": [(_weights_per_class, "one per sample"), (_weights_by_count, "the common class got more weight")],
    "03.3": [(_blocks_floor, "the remainder is lost")],
}
