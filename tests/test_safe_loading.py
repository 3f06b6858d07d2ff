"""No bare ``torch.load`` anywhere in the project: every call says what it trusts with ``weights_only``.

``torch.load(path)`` of a pickle runs whatever code the file names (before PyTorch 2.6 that was the
default); the notebooks teach naming ``weights_only`` every time, so the project's own code does too.
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("helpers", "tests", "benchmarks", "scripts", "data", "notebooks")


def bare_loads(source: str) -> list[int]:
    """Line numbers of ``torch.load(...)`` calls (or ``load`` imported from torch) without ``weights_only=``."""
    tree = ast.parse(source)
    aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module == "torch" for alias in node.names if alias.name == "load"}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_load = (isinstance(func, ast.Attribute) and func.attr == "load" and isinstance(func.value, ast.Name)
                   and func.value.id == "torch") or (isinstance(func, ast.Name) and func.id in aliases)
        if is_load and not any(k.arg == "weights_only" for k in node.keywords):
            lines.append(node.lineno)
    return lines


def notebook_code(path: Path) -> str:
    """A notebook's code cells as plain Python, as IPython runs them (``!cmd`` and ``%magic`` become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    transform = TransformerManager().transform_cell
    return "\n".join(transform("".join(cell["source"])) for cell in cells if cell["cell_type"] == "code")


def sources() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*")
                  if p.suffix in (".py", ".ipynb") and ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_torch_load_names_weights_only(path):
    source = notebook_code(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    assert bare_loads(source) == [], f"{path.name}: torch.load without weights_only= on these lines"


def test_the_check_finds_bare_loads():
    assert bare_loads("import torch\nx = torch.load('a.pt')\ny = torch.load('a.pt', weights_only=True)\n") == [2]
    assert bare_loads("from torch import load as tl\nstate = tl(p, map_location='cpu')\n") == [2]
    assert bare_loads("torch.load(p, weights_only=False)\nnp.load(p)\ntorch.export.load(p)\n") == []


def test_notebook_shell_lines_do_not_break_the_parse(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["if True:\n", "    !ls\n", "out = !ls\n", "x = torch.load(p)\n"]},
                    {"cell_type": "markdown", "source": ["torch.load(p)"]}]}
    (tmp_path / "n.ipynb").write_text(json.dumps(nb))
    assert bare_loads(notebook_code(tmp_path / "n.ipynb")) == [4]


def test_all_project_folders_are_scanned():
    scanned = {p.relative_to(ROOT).parts[0] for p in sources()}
    assert scanned == set(FOLDERS) - {"data"} | ({"data"} if (ROOT / "data" / "build.py").exists() else set())
