"""Small, tested helpers shared by the notebooks.

Import names explicitly, e.g. ``from helpers.utils import set_seed, get_device``. The names
below are re-exported for convenience.
"""

from helpers.data import (
    BUNDLED,
    CIFAR10_CLASSES,
    DATA_DIR,
    HYMENOPTERA_CLASSES,
    DataError,
    ImageFileDataset,
    LabelFileDataset,
    cifar10_mini,
    data_root,
    hymenoptera,
    is_image_file,
    load_rgb,
    scan_class_folders,
)
from helpers.loading import TensorImageFolder, TextLinesStream, collate_pad, seed_worker
from helpers.engine import evaluate, fit, train_one_epoch
from helpers.losses import FocalLoss
from helpers.models import CifarResNet, ResidualBlock, SmallCNN, count_parameters
from helpers.plot import denormalize, plot_history, show_image_grid, show_rows
from helpers.transforms import AddGaussianNoise, BatchAugment, SquarePad
from helpers.utils import DEVICE_ENV_VAR, get_device, set_seed

__all__ = [
    "BatchAugment",
    "evaluate",
    "fit",
    "train_one_epoch",
    "FocalLoss",
    "CifarResNet",
    "ResidualBlock",
    "SmallCNN",
    "count_parameters",
    "AddGaussianNoise",
    "SquarePad",
    "TensorImageFolder",
    "TextLinesStream",
    "collate_pad",
    "seed_worker",
    "show_rows",
    "BUNDLED",
    "CIFAR10_CLASSES",
    "DATA_DIR",
    "DEVICE_ENV_VAR",
    "HYMENOPTERA_CLASSES",
    "DataError",
    "ImageFileDataset",
    "LabelFileDataset",
    "cifar10_mini",
    "data_root",
    "denormalize",
    "get_device",
    "hymenoptera",
    "is_image_file",
    "load_rgb",
    "plot_history",
    "scan_class_folders",
    "set_seed",
    "show_image_grid",
]
