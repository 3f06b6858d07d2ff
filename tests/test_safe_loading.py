"""No bare ``torch.load`` anywhere in the project: every call says what it trusts with ``weights_only``.

``torch.load(path)`` of a pickle runs whatever code the file names (before PyTorch 2.6 that was the
default); the notebooks teach naming ``weights_only`` every time, so the project's own code does too.
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".venv", ".git", "checkpoints", "outputs", "runs", "build", "dist", ".ipynb_checkpoints"}


def bare_loads(source: str) -> list[int]:
    """Line numbers of ``torch.load(...)`` calls without ``weights_only=``: also through ``import torch as th``,
    ``torch.serialization.load`` and ``from torch import load``."""
    tree = ast.parse(source)
    torch_names, load_names = {"torch"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            torch_names |= {a.asname for a in node.names if a.name == "torch" and a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            load_names |= {a.asname or a.name for a in node.names if a.name == "load"}

    def is_torch(node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in torch_names
        return isinstance(node, ast.Attribute) and node.attr == "serialization" and is_torch(node.value)

    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_load = (isinstance(func, ast.Attribute) and func.attr == "load" and is_torch(func.value)) or (
            isinstance(func, ast.Name) and func.id in load_names)
        if is_load and not any(k.arg == "weights_only" for k in node.keywords):
            lines.append(node.lineno)
    return lines


def notebook_code(path: Path) -> str:
    """A notebook's code cells as plain Python, as IPython runs them (``!cmd`` and ``%magic`` become calls;
    the body of a ``%%time``-like cell magic is kept as code, not hidden in a string)."""
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    transform = TransformerManager().transform_cell
    sources = []
    for cell in cells:
        if cell["cell_type"] == "code":
            text = "".join(cell["source"])
            if text.startswith("%%"):
                text = text.split("\n", 1)[1] if "\n" in text else ""
            sources.append(transform(text))
    return "\n".join(sources)


def sources() -> list[Path]:
    """Every .py and .ipynb file of the project, outside the virtual environment and what runs write."""
    return sorted(p for p in ROOT.rglob("*") if p.suffix in (".py", ".ipynb")
                  and not SKIP & set(p.relative_to(ROOT).parts))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_torch_load_names_weights_only(path):
    source = notebook_code(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    assert bare_loads(source) == [], f"{path.name}: torch.load without weights_only= on these lines"


def test_the_check_finds_bare_loads():
    assert bare_loads("import torch\nx = torch.load('a.pt')\ny = torch.load('a.pt', weights_only=True)\n") == [2]
    assert bare_loads("from torch import load as tl\nstate = tl(p, map_location='cpu')\n") == [2]
    assert bare_loads("import torch as th\nth.load(p)\nth.serialization.load(p)\ntorch.serialization.load(p)\n") \
        == [2, 3, 4]
    assert bare_loads("torch.load(p, weights_only=False)\nnp.load(p)\ntorch.export.load(p)\n") == []


def test_notebook_magics_do_not_hide_code(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["if True:\n", "    !ls\n", "out = !ls\n", "x = torch.load(p)\n"]},
                    {"cell_type": "code", "source": ["%%time\n", "y = torch.load(p)\n"]},
                    {"cell_type": "markdown", "source": ["torch.load(p)"]}]}
    (tmp_path / "n.ipynb").write_text(json.dumps(nb))
    assert len(bare_loads(notebook_code(tmp_path / "n.ipynb"))) == 2          # both cells, not the markdown


def test_every_project_folder_is_scanned():
    scanned = {p.relative_to(ROOT).parts[0] for p in sources()}
    assert {"helpers", "tests", "benchmarks", "scripts", "data", "notebooks", "conftest.py"} <= scanned
    assert not any(".venv" in p.parts for p in sources())
