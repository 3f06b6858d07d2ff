"""Invariants of the committed notebooks that nbval itself does not check."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WARNING = re.compile(r"(torch|torchvision)\S*: (\w*Warning)|\b(DeprecationWarning|FutureWarning|UserWarning)\b")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def code_cells(path: Path) -> list[dict]:
    return [c for c in cells(path) if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["00", "01"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_top_to_bottom(path):
    counts = [c["execution_count"] for c in code_cells(path)]
    assert None not in counts, "some code cells were never executed: nbval would compare nothing there"
    assert counts == list(range(1, len(counts) + 1)), "re-run the notebook top to bottom from a fresh kernel"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_only_where_tagged(path):
    for i, cell in enumerate(code_cells(path)):
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if "raises-exception" in tags(cell):
            assert errors, f"code cell {i} is tagged raises-exception but raised nothing"
        else:
            assert not errors, f"code cell {i} stored an error: {errors[0]['ename']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_library_warnings_in_stored_stderr(path):
    for i, cell in enumerate(code_cells(path)):
        for out in cell["outputs"]:
            if out["output_type"] == "stream" and out["name"] == "stderr":
                text = "".join(out["text"])
                assert not WARNING.search(text), f"code cell {i} stored a warning:\n{text[:500]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_downloads_unless_skipped(path):
    for i, cell in enumerate(code_cells(path)):
        if re.search(r"download\s*=\s*True", "".join(cell["source"])):
            assert "nbval-skip" in tags(cell), f"code cell {i} downloads and is not tagged nbval-skip"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_are_followed_by_a_check(path):
    code = code_cells(path)
    for i, cell in enumerate(code):
        if "nbval-ignore-output" in tags(cell) and re.search(r"\bfor\b.*\b(epoch|train_loader)", "".join(cell["source"])):
            following = "".join(code[i + 1]["source"]) if i + 1 < len(code) else ""
            assert "assert" in following, f"training cell {i} is not followed by an assert"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_standard_kernel_and_structure(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert markdown[0].startswith("# "), "the notebook opens with a title"
    assert "What you will learn" in markdown[0] and "Runtime:" in markdown[0] and "Builds on" in markdown[0]
    closing = "\n".join(markdown[-2:])
    assert "## Summary" in "\n".join(markdown) and "## Exercises" in closing and "**Next:**" in closing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_listed_in_the_readme_index_with_a_runtime(path):
    readme = (ROOT / "README.md").read_text()
    row = re.search(rf"^\|[^\n]*{re.escape(path.name)}[^\n]*$", readme, re.M)
    assert row, f"{path.name} is missing from the README's notebook index"
    assert re.search(r"\| \d+(–\d+)? s \|", row.group(0)), "the index row gives no measured runtime"


def executed_source(name: str) -> str:
    return "\n".join("".join(c["source"]) for c in code_cells(ROOT / "notebooks" / name) if c["execution_count"])


# What the issues promise each notebook demonstrates, in executed code.
PROMISED = {
    "02_transforms.ipynb": [
        "RandomCrop", "CenterCrop", "RandomResizedCrop", "FiveCrop", "TenCrop", "RandomHorizontalFlip",
        "RandomVerticalFlip", "RandomRotation", "Resize", "Normalize", "ToTensor", "Pad", "ColorJitter",
        "Grayscale", "RandomGrayscale", "LinearTransformation", "RandomAffine", "Lambda", "RandomChoice",
        "RandomApply", "RandomOrder", "ToPILImage",
        "RandAugment", "TrivialAugmentWide", "AutoAugment", "RandomErasing", "GaussianBlur", "RandomPerspective",
    ],
    "04_nn_module.ipynb": [
        "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "uniform_", "normal_",
        "constant_", "eye_", "dirac_", "orthogonal_", "sparse_", "trunc_normal_", "zeros_", "ones_",
        "calculate_gain", "ModuleList", "ModuleDict", "register_forward_hook", "resnet34", "add_module",
        "list_models", "get_model",
    ],
    "05_losses.ipynb": [
        "L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "PoissonNLLLoss", "KLDivLoss", "BCELoss",
        "BCEWithLogitsLoss", "MarginRankingLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SmoothL1Loss",
        "SoftMarginLoss", "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss", "MultiMarginLoss", "TripletMarginLoss",
        "HuberLoss", "GaussianNLLLoss", "label_smoothing", "ignore_index", "FocalLoss",
    ],
    "06_optimizers_schedulers.ipynb": [
        "SGD", "ASGD", "Rprop", "Adagrad", "Adadelta", "RMSprop", "Adam", "Adamax", "SparseAdam", "LBFGS",
        "AdamW", "NAdam", "RAdam", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
        "ReduceLROnPlateau", "LambdaLR", "OneCycleLR", "CosineAnnealingWarmRestarts", "CyclicLR", "LinearLR",
        "PolynomialLR", "SequentialLR", "ChainedScheduler", "clip_grad_norm_", "add_param_group", "get_last_lr",
    ],
    "07_training_loop.ipynb": [
        "train_one_epoch", "evaluate", "fit", "zero_grad", "backward", "inference_mode", "no_grad",
        "use_deterministic_algorithms", "amp_dtype", "restore_best", "bincount",
    ],
    "03_dataloader.ipynb": [
        "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
        "DistributedSampler", "collate_fn", "worker_init_fn", "persistent_workers", "get_worker_info",
    ],
}


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_promised_apis_appear_in_executed_code(name):
    if not (ROOT / "notebooks" / name).exists():
        pytest.fail(f"{name} is missing")
    source = executed_source(name)
    missing = [api for api in PROMISED[name] if not re.search(rf"\b(v2\.|v1\.)?{api}\b", source)]
    assert not missing, f"{name} never runs: {missing}"
