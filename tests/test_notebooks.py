"""Invariants of the committed notebooks that nbval itself does not check.

Each check is a function that takes a notebook (the parsed JSON) and returns what is wrong with
it; the tests run it on every notebook and expect nothing, and the tests at the end run it on a
small notebook made to break it, so that no check here passes whatever the notebooks hold.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WARNING = re.compile(r"(torch|torchvision)\S*: (\w*Warning)|\b(DeprecationWarning|FutureWarning|UserWarning)\b")

Notebook = dict
Cell = dict


def load(path: Path) -> Notebook:
    return json.loads(path.read_text())


def code_cells(nb: Notebook) -> list[Cell]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def tags(cell: Cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def source(cell: Cell) -> str:
    return "".join(cell["source"])


@cache
def syntax_tree(cell_source: str) -> ast.Module:
    """The cell's code as Python sees it: IPython's magics and `!` commands become calls, and
    comments and strings are no longer code (they are ast.Constant nodes, or gone)."""
    return ast.parse(TransformerManager().transform_cell(cell_source))


def names_in_code(cell_source: str) -> set[str]:
    """Every name the code uses: variables, attributes (`nn.init.dirac_` gives `dirac_`) and
    keyword arguments (`label_smoothing=0.1`); not the words in comments, strings or imports."""
    found: set[str] = set()
    for node in ast.walk(syntax_tree(cell_source)):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
    return found


def called_names(cell_source: str) -> set[str]:
    """The names of the functions the code calls: `fit(...)` and `helpers.engine.fit(...)` both give `fit`."""
    calls = (n.func for n in ast.walk(syntax_tree(cell_source)) if isinstance(n, ast.Call))
    return {f.attr if isinstance(f, ast.Attribute) else f.id for f in calls if isinstance(f, ast.Attribute | ast.Name)}


def compared_text(cell: Cell) -> str:
    """What strict nbval compares of a cell's stored outputs: stdout, every non-image MIME type and
    errors (stderr is left out by conftest.py, images and widget models by nbval)."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out["name"] == "stdout":
            parts.append("".join(out["text"]))
        elif out["output_type"] in ("execute_result", "display_data"):
            for mime, value in out["data"].items():
                if not mime.startswith("image/") and "widget" not in mime:
                    parts.append(value if isinstance(value, str) else "".join(value))
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "\n".join(parts)


def strictly_compared(cell: Cell) -> bool:
    return not {"nbval-ignore-output", "nbval-skip"} & set(tags(cell))


# --- the checks: each returns a list of problems, empty when the notebook is fine ---------------------

def starts_a_server(cell: Cell) -> bool:
    return "nbval-skip" in tags(cell) and bool(re.search(r"^\s*%tensorboard\b", source(cell), re.M))


def unexecuted_cells(nb: Notebook) -> list[str]:
    # A cell tagged nbval-skip that starts a server (%tensorboard) is stored unexecuted, without
    # output: nbval compares nothing there either way, and running it would leave a server behind.
    counts = [c["execution_count"] for c in code_cells(nb)
              if not (starts_a_server(c) and c["execution_count"] is None and not c["outputs"])]
    if None in counts:
        return ["some code cells were never executed: nbval would compare nothing there"]
    if counts != list(range(1, len(counts) + 1)):
        return [f"execution counts {counts} are not 1, 2, 3, ...: re-run the notebook top to bottom "
                "from a fresh kernel"]
    return []


def untagged_errors(nb: Notebook) -> list[str]:
    problems = []
    for i, cell in enumerate(code_cells(nb)):
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if "raises-exception" in tags(cell) and not errors:
            problems.append(f"code cell {i} is tagged raises-exception but raised nothing")
        elif "raises-exception" not in tags(cell) and errors:
            problems.append(f"code cell {i} stored an error: {errors[0]['ename']}")
    return problems


def library_warnings_in_stderr(nb: Notebook) -> list[str]:
    problems = []
    for i, cell in enumerate(code_cells(nb)):
        for out in cell["outputs"]:
            if out["output_type"] == "stream" and out["name"] == "stderr":
                text = "".join(out["text"])
                if WARNING.search(text):
                    problems.append(f"code cell {i} stored a warning:\n{text[:500]}")
    return problems


# Calls that fetch from the network: torch.hub, and a weights enum's own download.
FETCHING_CALLS = {"load_state_dict_from_url", "download_url_to_file", "get_state_dict", "download_and_extract_archive",
                  "download_url"}


def downloads_not_skipped(nb: Notebook) -> list[str]:
    """`download=True`, pretrained weights (`weights=` anything but None), `torch.hub.load/list/help` or another
    fetching call, outside an nbval-skip cell."""
    problems = []
    for i, cell in enumerate(code_cells(nb)):
        if "nbval-skip" in tags(cell):
            continue
        for node in ast.walk(syntax_tree(source(cell))):
            if isinstance(node, ast.keyword) and node.arg in ("download", "weights", "pretrained"):
                value = node.value
                if not (isinstance(value, ast.Constant) and value.value in (None, False)):
                    problems.append(f"code cell {i} downloads ({node.arg}={ast.unparse(value)}) "
                                    "and is not tagged nbval-skip")
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                hub = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and \
                    func.value.attr == "hub" or isinstance(func, ast.Attribute) and \
                    isinstance(func.value, ast.Name) and func.value.id == "hub"
                if name in FETCHING_CALLS or (hub and name in ("load", "list", "help")):
                    problems.append(f"code cell {i} fetches ({ast.unparse(func)}(...)) and is not tagged nbval-skip")
    return problems


TRAINING_LOOP = re.compile(r"\bfor\b.*\b(epoch|train_loader)")


def trains(cell: Cell) -> bool:
    return bool(TRAINING_LOOP.search(source(cell))) or bool({"fit", "train_one_epoch"} & called_names(source(cell)))


def unchecked_ignored_training(nb: Notebook) -> list[str]:
    """A training cell whose output nbval ignores must be followed by a cell with an assert statement."""
    code = code_cells(nb)
    problems = []
    for i, cell in enumerate(code):
        if "nbval-ignore-output" in tags(cell) and trains(cell):
            following = syntax_tree(source(code[i + 1])) if i + 1 < len(code) else ast.Module(body=[], type_ignores=[])
            if not any(isinstance(node, ast.Assert) for node in ast.walk(following)):
                problems.append(f"training cell {i} ignores its output and is not followed by a cell that asserts")
    return problems


def structure_problems(nb: Notebook) -> list[str]:
    problems = []
    if nb["metadata"].get("kernelspec", {}).get("name") != "python3":
        problems.append("the kernelspec is not the standard python3")
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    first = markdown[0] if markdown else ""
    if not first.startswith("# "):
        problems.append("the notebook does not open with a title")
    for part in ("What you will learn", "Runtime:", "Builds on"):
        if part not in first:
            problems.append(f"the opening cell lacks {part!r}")
    # Summary, then the exercises (a section of several cells, checked in test_exercises.py), and
    # the link to the next notebook in the last markdown cell.
    summary = next((i for i, text in enumerate(markdown) if "## Summary" in text), None)
    if summary is None:
        problems.append("no '## Summary'")
    elif not any("## Exercises" in text for text in markdown[summary:]):
        problems.append("no '## Exercises' after the summary")
    if not markdown or "**Next:**" not in markdown[-1]:
        problems.append("the last markdown cell lacks '**Next:**'")
    return problems


# Text that changes with the library versions installed, not with the code: a strictly compared cell
# that prints it fails `make test` after the next release, although nothing is wrong.
VERSION_STRING = re.compile(r"\b\d+\.\d+\.\d+(\+\w+)?\b|\+(cu\d+|cpu|rocm[\d.]*)\b"
                            r"|\b(torch|torchvision|PyTorch|version)\s*:?\s*v?\d+\.\d+\b", re.I)
WARNING_NAME = re.compile(r"\b\w*Warning\b")
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")


def prints_caught_warning(cell_source: str) -> bool:
    """print(...) / display(...) of a caught warning's `.message` or `.category`: PyTorch's words, not ours."""
    for node in ast.walk(syntax_tree(cell_source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "display"):
            for arg in ast.walk(ast.Module(body=[ast.Expr(a) for a in node.args], type_ignores=[])):
                if isinstance(arg, ast.Attribute) and arg.attr in ("message", "category"):
                    return True
    return False


def version_dependent_output(nb: Notebook) -> list[str]:
    """Strictly compared cells that print library versions, warning text, list_models results or addresses."""
    problems = []
    for i, cell in enumerate(nb["cells"]):  # index in nb["cells"], as JupyterLab and nbval count
        if cell["cell_type"] != "code" or not strictly_compared(cell):
            continue
        text = compared_text(cell)
        found = []
        for what, pattern in (("a version", VERSION_STRING), ("warning text", WARNING_NAME), ("an address", ADDRESS)):
            found += [f"{what}: {m.group(0)!r}" for m in pattern.finditer(text)]
        if prints_caught_warning(source(cell)):
            found.append("the text of a caught warning (print of .message / .category)")
        if text.strip() and "list_models" in called_names(source(cell)):
            found.append("what list_models() returns (new releases add models)")
        if found:
            problems.append(f"cell {i}: " + "; ".join(dict.fromkeys(found)))
    return problems


# --- the tests ---------------------------------------------------------------------------------------

def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["00", "01"]


CHECKS: list[Callable[[Notebook], list[str]]] = [
    unexecuted_cells, untagged_errors, library_warnings_in_stderr, downloads_not_skipped,
    unchecked_ignored_training, structure_problems,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook(path, check):
    problems = check(load(path))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_strictly_compared_cells_print_nothing_version_dependent(path):
    """Tag such a cell nbval-ignore-output and assert what must hold instead, or print less."""
    problems = version_dependent_output(load(path))
    assert not problems, f"{path.name}, text a new torch/torchvision would change:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_listed_in_the_readme_index_with_a_runtime(path):
    readme = (ROOT / "README.md").read_text()
    row = re.search(rf"^\|[^\n]*{re.escape(path.name)}[^\n]*$", readme, re.M)
    assert row, f"{path.name} is missing from the README's notebook index"
    assert re.search(r"\| \d+(–\d+)? s \|", row.group(0)), "the index row gives no measured runtime"


def executed_names(nb: Notebook) -> set[str]:
    """The names used by the code that strict nbval runs: executed cells, not nbval-skip ones."""
    names: set[str] = set()
    for cell in code_cells(nb):
        if cell["execution_count"] and "nbval-skip" not in tags(cell):
            names |= names_in_code(source(cell))
    return names


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
    "08_gpu_and_distributed.ipynb": [
        "current_accelerator", "get_device", "pin_memory", "non_blocking", "synchronize", "Event", "autocast",
        "GradScaler", "channels_last", "compile", "allow_tf32", "benchmark", "max_memory_allocated", "checkpoint",
        "DataParallel", "consume_prefix_in_state_dict_if_present", "SyncBatchNorm", "convert_sync_batchnorm",
        "DistributedSampler", "set_epoch",
    ],
    "09_save_and_load.ipynb": [
        "state_dict", "load_state_dict", "weights_only", "safe_globals", "get_unsafe_globals_in_checkpoint",
        "map_location", "mmap", "strict", "missing_keys", "unexpected_keys", "consume_prefix_in_state_dict_if_present",
        "compile", "DataParallel", "load_matching_weights", "GradScaler", "rng_state", "set_rng_state",
        "replace", "fsync", "save_checkpoint", "load_checkpoint", "CheckpointCallback", "export", "Dim",
        "save_file", "load_file",
    ],
    "10_finetuning.ipynb": [
        "pretrained_cifar8", "register_forward_hook", "get_model_weights", "ResNet18_Weights", "transforms",
        "mobilenet_v3_small", "load_state_dict", "strict", "missing_keys", "load_matching_weights",
        "requires_grad_", "freeze", "trainable_parameters", "param_groups", "is_frozen", "train_one_epoch",
        "evaluate", "OneCycleLR", "AdamW",
    ],
    "11_tensorboard.ipynb": [
        "SummaryWriter", "add_scalar", "add_scalars", "add_histogram", "add_image", "add_video", "add_audio",
        "add_text", "add_graph", "add_embedding", "add_pr_curve", "add_pr_curve_raw", "add_images", "add_figure",
        "add_hparams", "add_custom_scalars", "make_grid", "save_image", "dataformats", "flush", "close",
        "TensorBoardCallback", "histograms_every", "log_every_n_steps", "EventAccumulator", "read_scalars",
        "read_histogram_steps", "size_guidance",
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
    used = executed_names(load(ROOT / "notebooks" / name))
    missing = [api for api in PROMISED[name] if api not in used]
    assert not missing, f"{name} never runs (in code, not comments or strings): {missing}"


# --- each check can fail: a notebook made to break it ------------------------------------------------

def code(src: str, *, count: int | None = 1, outputs: list | None = None, cell_tags: tuple = ()) -> Cell:
    return {"cell_type": "code", "source": src, "execution_count": count, "outputs": outputs or [],
            "metadata": {"tags": list(cell_tags)}}


def stdout(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def notebook(*cells: Cell) -> Notebook:
    return {"metadata": {"kernelspec": {"name": "python3"}}, "cells": list(cells)}


GOOD_MARKDOWN = [
    {"cell_type": "markdown", "source": "# T\nWhat you will learn\nBuilds on\nRuntime: 1 s"},
    {"cell_type": "markdown", "source": "## Summary\n## Exercises\n**Next:** x"},
]


@pytest.mark.parametrize("check, bad", [
    (unexecuted_cells, notebook(code("x = 1", count=None))),
    (unexecuted_cells, notebook(code("%tensorboard --logdir runs", count=None, cell_tags=("nbval-ignore-output",)))),
    (unexecuted_cells, notebook(code("x = 1", count=None, cell_tags=("nbval-skip",)))),
    (unexecuted_cells, notebook(code("x = 1", count=2), code("y = 1", count=1))),
    (untagged_errors, notebook(code("1 / 0", outputs=[{"output_type": "error", "ename": "ZeroDivisionError"}]))),
    (untagged_errors, notebook(code("x = 1", cell_tags=("raises-exception",)))),
    (library_warnings_in_stderr, notebook(code("f()", outputs=[
        {"output_type": "stream", "name": "stderr", "text": "/x/torchvision/io.py:3: UserWarning: old"}]))),
    (downloads_not_skipped, notebook(code("CIFAR10('data', download=True)"))),
    (downloads_not_skipped, notebook(code("resnet18(weights=ResNet18_Weights.DEFAULT)"))),
    (downloads_not_skipped, notebook(code("model = torch.hub.load('pytorch/vision', 'resnet18')"))),
    (downloads_not_skipped, notebook(code("from torch import hub\nhub.list('pytorch/vision')"))),
    (downloads_not_skipped, notebook(code("state = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True)"))),
    (downloads_not_skipped, notebook(code("torch.hub.load_state_dict_from_url(url)"))),
    (unchecked_ignored_training, notebook(code("for epoch in range(3):\n    step()",
                                               cell_tags=("nbval-ignore-output",)),
                                          code("# assert we learned\nprint('assert')"))),
    (unchecked_ignored_training, notebook(code("history = fit(model, loader)", cell_tags=("nbval-ignore-output",)))),
    (structure_problems, {"metadata": {"kernelspec": {"name": "venv"}}, "cells": GOOD_MARKDOWN}),
    (structure_problems, notebook(GOOD_MARKDOWN[1], GOOD_MARKDOWN[0])),
    (structure_problems, notebook({"cell_type": "markdown", "source": "What you will learn\nBuilds on\nRuntime: 1 s"},
                                  GOOD_MARKDOWN[1])),
    (structure_problems, notebook(GOOD_MARKDOWN[0], {"cell_type": "markdown", "source": "## Summary\n**Next:** x"})),
    (structure_problems, notebook(*GOOD_MARKDOWN, {"cell_type": "markdown", "source": "### Open-ended"})),
    (structure_problems, notebook(GOOD_MARKDOWN[0], {"cell_type": "markdown", "source": "## Exercises"},
                                  {"cell_type": "markdown", "source": "## Summary\n**Next:** x"})),
    (version_dependent_output, notebook(code("print(torch.__version__)", outputs=[stdout("2.14.1+cu130\n")]))),
    (version_dependent_output, notebook(code("w()", outputs=[stdout("UserWarning: ToTensor is deprecated\n")]))),
    (version_dependent_output, notebook(code("print(str(caught[0].message).split('.')[0])", outputs=[stdout("x\n")]))),
    (version_dependent_output, notebook(code("print(len(list_models()))", outputs=[stdout("80\n")]))),
    (version_dependent_output, notebook(code("loader", outputs=[{"output_type": "execute_result", "data": {
        "text/plain": "<torch.utils.data.dataloader.DataLoader object at 0x7f3a2c1d9e50>"}}]))),
])
def test_each_check_finds_what_it_is_for(check, bad):
    assert check(bad)


@pytest.mark.parametrize("check, fine", [
    (unexecuted_cells, notebook(code("x = 1", count=1), code("%tensorboard --logdir runs", count=None,
                                                           cell_tags=("nbval-skip",)), code("y = 1", count=2))),
    (untagged_errors, notebook(code("1 / 0", cell_tags=("raises-exception",), outputs=[
        {"output_type": "error", "ename": "ZeroDivisionError"}]))),
    (downloads_not_skipped, notebook(code("# CIFAR10('data', download=True) needs the internet\n"
                                          "resnet18(weights=None)"),
                                     code("CIFAR10('data', download=True)", cell_tags=("nbval-skip",)))),
    (unchecked_ignored_training, notebook(code("history = fit(model, loader)", cell_tags=("nbval-ignore-output",)),
                                          code("assert history['val_acc'][-1] > 0.5"))),
    (structure_problems, notebook(*GOOD_MARKDOWN)),
    (version_dependent_output, notebook(code("print(torch.__version__)", outputs=[stdout("2.14.1\n")],
                                             cell_tags=("nbval-ignore-output",)),
                                        code("print(f'{x:.3f}', shape)", outputs=[stdout("0.125 (3, 224, 224)\n")]))),
])
def test_checks_pass_what_is_fine(check, fine):
    assert not check(fine)


def test_promised_names_come_from_code_not_comments_or_strings():
    cell_source = ("# we also show dirac_ here\nprint('eye_')\nnn.init.orthogonal_(w)\n"
                   "loss_fn(x, label_smoothing=0.1)\n!ls")
    assert names_in_code(cell_source) >= {"orthogonal_", "label_smoothing"}
    assert not names_in_code(cell_source) & {"dirac_", "eye_", "we", "here"}
