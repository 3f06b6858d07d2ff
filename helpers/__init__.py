"""Small, tested helpers shared by the notebooks.

Import names explicitly from their module, e.g. ``from helpers.utils import set_seed``. The
names below are also available as ``helpers.<name>``; they are imported on first use, so
``import helpers`` (and a ``DataLoader`` worker that imports it) stays cheap and pulls in
neither matplotlib nor TorchCodec until a function that needs them is called.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["BUNDLED", "CIFAR10_CLASSES", "DATA_DIR", "HYMENOPTERA_CLASSES", "IMAGENET_MEAN",
                     "IMAGENET_STD", "PRETRAINED", "catdog_test_tensors", "channel_stats", "cifar10_mini",
                     "cifar10_mini_tensors", "data_root", "hymenoptera", "pretrained_cifar8"], "helpers.data"),
    **dict.fromkeys(["ImageFileDataset", "LabelFileDataset", "TensorImageFolder", "TextLinesStream"],
                    "helpers.datasets"),
    **dict.fromkeys(["DataError", "find_unreadable", "is_image_file", "load_image", "load_rgb", "scan_class_folders"],
                    "helpers.files"),
    **dict.fromkeys(["Predictions", "RunningMetrics", "confusion_matrix", "predict"], "helpers.metrics"),
    **dict.fromkeys(["Callback", "CheckpointCallback", "EarlyStopping"], "helpers.callbacks"),
    **dict.fromkeys(["copy_atomically", "load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state",
                     "unwrap_model"], "helpers.checkpoint"),
    **dict.fromkeys(["freeze", "is_frozen", "load_matching_weights", "MatchReport", "param_groups",
                     "trainable_parameters", "unfreeze"], "helpers.finetune"),
    **dict.fromkeys(["SetEpoch", "all_reduce_sums", "cleanup", "is_main_process", "setup"], "helpers.distributed"),
    **dict.fromkeys(["evaluate", "fit", "train_one_epoch"], "helpers.engine"),
    **dict.fromkeys(["BatchAugment", "collate_pad", "seed_worker"], "helpers.loading"),
    **dict.fromkeys(["FocalLoss"], "helpers.losses"),
    **dict.fromkeys(["CifarResNet", "ResidualBlock", "SmallCNN", "count_parameters"], "helpers.models"),
    **dict.fromkeys(["denormalize", "plot_confusion_matrix", "plot_history", "show_image_grid", "show_rows"],
                    "helpers.plot"),
    **dict.fromkeys(["TensorBoardCallback", "read_histogram_steps", "read_scalars"], "helpers.tensorboard"),
    **dict.fromkeys(["AddGaussianNoise", "SquarePad"], "helpers.transforms"),
    **dict.fromkeys(["DEVICE_ENV_VAR", "PerWorkerGenerator", "check_device", "get_device", "set_seed"],
                    "helpers.utils"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # PEP 562: import the defining module only when one of its names is first asked for.
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
