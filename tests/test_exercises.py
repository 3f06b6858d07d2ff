"""The checked exercises: every check accepts its reference solution, rejects the typical mistakes
with the hint meant for them, and appears in its notebook as a stub cell followed by a check cell.

The solutions and mistakes live in ``solutions/nbNN.py`` (outside the notebooks, so a learner does
not see them by scrolling); the checks in ``helpers/exercises/``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
import torch

from helpers.exercises import CHECKS, check_exercise, exercise_ids
from helpers.exercises.core import CHECK_FAILED, CheckResult, Hint, call

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
MODULES = {nb: importlib.import_module(f"solutions.nb{nb}") for nb in NOTEBOOKS}
SOLUTIONS = {i: answer for module in MODULES.values() for i, answer in module.SOLUTIONS.items()}
MISTAKES = [(i, wrong, hint) for module in MODULES.values() for i, wrongs in module.MISTAKES.items()
            for wrong, hint in wrongs]
ALTERNATIVES = [(i, answer) for module in MODULES.values() for i, answers in getattr(module, "ALTERNATIVES", {}).items()
                for answer in answers]
CHECK_CALL = re.compile(r'^check_exercise\("(\d\d\.\d+)", (\w+)\)$')


def test_every_exercise_has_a_solution_and_a_typical_mistake():
    assert sorted(SOLUTIONS) == exercise_ids()
    assert {i for i, _, _ in MISTAKES} == set(exercise_ids())
    for nb, module in MODULES.items():
        assert all(i.startswith(f"{nb}.") for i in [*module.SOLUTIONS, *module.MISTAKES]), module.__name__


@pytest.mark.parametrize("exercise_id", exercise_ids())
def test_the_check_accepts_the_solution(exercise_id):
    result = check_exercise(exercise_id, SOLUTIONS[exercise_id])
    assert result.status == "correct", result
    assert result and repr(result).startswith(f"Exercise {exercise_id}, ✔ correct: ")


@pytest.mark.parametrize("exercise_id, answer", ALTERNATIVES,
                         ids=[f"{i}-{answer.__name__.strip('_')}" for i, answer in ALTERNATIVES])
def test_the_check_accepts_a_correct_answer_written_another_way(exercise_id, answer):
    result = check_exercise(exercise_id, answer)
    assert result.status == "correct", result


@pytest.mark.parametrize("exercise_id, wrong, hint", MISTAKES,
                         ids=[f"{i}-{wrong.__name__.strip('_')}" for i, wrong, _ in MISTAKES])
def test_the_check_rejects_a_typical_mistake_with_its_hint(exercise_id, wrong, hint):
    result = check_exercise(exercise_id, wrong)
    assert result.status == "wrong", result
    assert not result
    assert hint in result.message, result.message
    assert CHECK_FAILED not in result.message           # a hint of the check's, not the catch-all


@pytest.mark.parametrize("exercise_id", exercise_ids())
def test_an_unanswered_stub_is_not_graded(exercise_id):
    def stub(*args, **kwargs):
        raise NotImplementedError

    assert check_exercise(exercise_id, stub).status == "unanswered"
    assert check_exercise(exercise_id, ...).status == "unanswered"


def test_an_error_in_the_learners_code_is_named_not_raised():
    def broken(logits, targets):
        return logits.argmax(1) == targets.nonexistent

    result = check_exercise("00.1", broken)
    assert result.status == "wrong" and "AttributeError" in result.message and "nonexistent" in result.message


def test_an_answer_of_the_wrong_kind_is_explained():
    result = check_exercise("00.1", 0.5)
    assert result.status == "wrong" and "a function or a class" in result.message


def test_a_known_error_message_gets_its_hint():
    def shapes(*args):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")

    with pytest.raises(Hint, match=r"cannot be multiplied \(2x3 and 4x5\)\. Hint: add a Flatten"):
        call(shapes, hints=[("cannot be multiplied", "add a Flatten.")])


def test_unknown_ids_are_refused_and_the_checks_are_read_only():
    with pytest.raises(KeyError, match="00.1"):
        check_exercise("99.1", ...)
    assert all(re.fullmatch(r"\d\d\.\d+", i) for i in CHECKS)
    with pytest.raises(TypeError):
        CHECKS["00.1"] = lambda answer: ""  # type: ignore[index]


def test_a_notimplementederror_from_pytorch_is_not_mistaken_for_the_stub():
    """Only the stub's own raise means "not answered"; a library's NotImplementedError is the learner's bug."""
    from torchvision.transforms import v2

    class Cutout(v2.Transform):                      # torchvision <= 0.20's method names: never called today
        def __init__(self, size):
            super().__init__()
            self.size = size

        def _transform(self, inpt, params):
            return inpt

    result = check_exercise("02.3", Cutout)
    assert result.status == "wrong" and "NotImplementedError raised inside PyTorch" in result.message, result


def stub(*args, **kwargs):
    raise NotImplementedError  # your code here


@pytest.mark.parametrize("wrapped", [functools.partial(stub), torch.no_grad()(stub)], ids=["partial", "decorated"])
def test_a_wrapped_stub_is_still_not_answered(wrapped):
    assert check_exercise("00.1", wrapped).status == "unanswered"


def test_calling_another_exercises_stub_is_named():
    """The stub of another exercise, defined in another cell (another file, for Python)."""
    cell: dict = {}
    exec(compile("def pixel_stats(images):\n    raise NotImplementedError\n", "<another cell>", "exec"), cell)

    def accuracy(logits, targets):
        return cell["pixel_stats"](logits)             # e.g. a helper from an earlier exercise, not written yet

    result = check_exercise("00.1", accuracy)
    assert result.status == "wrong" and "`pixel_stats`, which your code calls, still raises" in result.message


def test_a_device_mismatch_gets_the_device_hint():
    def moved(logits, targets):
        raise RuntimeError("Expected all tensors to be on the same device, but found cuda:0 and cpu")

    result = check_exercise("00.1", moved)
    assert result.status == "wrong" and "leave `.to(device)` to whoever calls your function" in result.message


def test_a_missing_return_is_named():
    def forgot_return(logits, targets):
        (logits.argmax(1) == targets).float().mean().item()

    result = check_exercise("00.1", forgot_return)
    assert result.status == "wrong" and "returned None" in result.message


def test_a_check_leaves_grad_mode_and_every_random_state_as_it_found_them():
    import random

    import numpy as np

    def train_step_that_draws(model, images, labels, loss_fn, optimizer):
        random.random(), np.random.rand(), torch.rand(1)            # the learner's code may draw numbers
        return SOLUTIONS["00.2"](model, images, labels, loss_fn, optimizer)

    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = random.random(), np.random.rand(), torch.rand(1)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with torch.no_grad():                               # a notebook may have turned gradients off
        assert check_exercise("00.2", train_step_that_draws)
        assert not torch.is_grad_enabled()
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


def test_an_interrupt_goes_through_and_torch_load_is_restored():
    load = torch.load

    def interrupted(path, model):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_exercise("09.1", interrupted)
    assert torch.load is load and torch.serialization.load is load


def test_the_result_shows_its_message():
    result = CheckResult("03.2", "wrong", "one weight per sample")
    assert repr(result) == "Exercise 03.2, ✘ not yet: one weight per sample"


def exercise_cells(path: Path) -> list[tuple[str, str, str]]:
    """``(id, answer name, stub source)`` for each check cell of the notebook, in order."""
    cells = json.loads(path.read_text())["cells"]
    found = []
    for i, cell in enumerate(cells):
        text = "".join(cell["source"]).strip()
        match = CHECK_CALL.match(text) if cell["cell_type"] == "code" else None
        if match:
            found.append((match[1], match[2], "".join(cells[i - 1]["source"])))
    return found


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_the_notebook_has_its_checked_exercises_in_order(nb):
    found = exercise_cells(NOTEBOOKS[nb])
    assert len(found) >= 3
    assert [i for i, _, _ in found] == exercise_ids(nb)


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_each_stub_asks_for_what_its_solution_is(nb):
    """The stub before each check cell defines the solution's name, with the solution's parameters."""
    for exercise_id, name, stub in exercise_cells(NOTEBOOKS[nb]):
        tree = ast.parse(stub)
        defined = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
        assert [d.name for d in defined] == [name], exercise_id
        assert "raise NotImplementedError" in stub, exercise_id
        solution = SOLUTIONS[exercise_id]
        assert solution.__name__ == name, exercise_id
        if isinstance(defined[0], ast.FunctionDef):
            params = [a.arg for a in defined[0].args.args]
            assert params == list(inspect.signature(solution).parameters), exercise_id
        else:
            init = next(n for n in defined[0].body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
            params = [a.arg for a in init.args.args[1:]]
            assert params == list(inspect.signature(solution).parameters), exercise_id


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_the_committed_notebook_shows_every_exercise_unanswered(nb):
    """The stored run is a learner's starting point: each check cell says "not answered yet"."""
    cells = json.loads(NOTEBOOKS[nb].read_text())["cells"]
    shown = {}
    for cell in cells:
        match = CHECK_CALL.match("".join(cell["source"]).strip()) if cell["cell_type"] == "code" else None
        if match:
            texts = [o.get("data", {}).get("text/plain", "") for o in cell["outputs"]]
            shown[match[1]] = "".join("".join(t) for t in texts)
    assert shown and all("… not answered yet" in text for text in shown.values()), shown


def solved_notebook() -> dict:
    """A notebook that does what a learner does: each solution typed into its stub's place, then the check run."""
    import nbformat

    cells = [nbformat.v4.new_code_cell("from helpers.exercises import check_exercise"),
             # an unanswered stub in one cell, used by an answer in another: not the stub's own "not answered"
             nbformat.v4.new_code_cell("def pixel_stats(images):\n    raise NotImplementedError  # your code here"),
             nbformat.v4.new_code_cell('check_exercise("02.1", pixel_stats)'),
             nbformat.v4.new_code_cell("def accuracy(logits, targets):\n    return pixel_stats(logits)"),
             nbformat.v4.new_code_cell('check_exercise("00.1", accuracy)')]
    for nb, module in MODULES.items():
        source = inspect.getsource(module)
        imports = source[:min(i for i in (source.find("\ndef "), source.find("\nclass ")) if i >= 0)]
        cells.append(nbformat.v4.new_code_cell(imports))
        for exercise_id, name, _ in exercise_cells(NOTEBOOKS[nb]):
            cells.append(nbformat.v4.new_code_cell(inspect.getsource(SOLUTIONS[exercise_id])))
            cells.append(nbformat.v4.new_code_cell(f'check_exercise("{exercise_id}", {name})'))
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                     "display_name": "Python 3"}})


@pytest.mark.slow
def test_in_a_kernel_every_solution_typed_into_its_notebook_is_correct():
    """Code defined in notebook cells (the kernel names their files) is checked as in a module: stubs are
    "not answered", another cell's stub is named, and every solution typed in is correct."""
    import nbclient

    nb = solved_notebook()
    nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(ROOT)}}).execute()
    shown = [o["data"]["text/plain"] for cell in nb.cells for o in cell.get("outputs", [])
             if o.get("output_type") == "execute_result"]
    assert len(shown) == 2 + len(exercise_ids())
    assert "… not answered yet" in shown[0]
    assert "`pixel_stats`, which your code calls, still raises NotImplementedError" in shown[1]
    solved = shown[2:]
    assert all("✔ correct" in text for text in solved), [text for text in solved if "✔ correct" not in text]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: answers that move the model to a GPU")
def test_answers_that_use_the_gpu_are_checked_like_cpu_ones():
    """On a GPU machine a learner moves models to the device; the checks compare on the CPU and restore CUDA's RNG."""
    cuda = torch.device("cuda")

    def load_then_move(path, model):
        epoch = SOLUTIONS["09.1"](path, model)
        model.to(cuda)
        return epoch

    def freeze_then_move(model, num_classes, lr):
        optimizer = SOLUTIONS["10.2"](model, num_classes, lr)
        model.to(cuda)
        return optimizer

    def accuracy_drawing_on_the_gpu(logits, targets):
        torch.rand(3, device=cuda)
        return SOLUTIONS["00.1"](logits, targets)

    assert check_exercise("09.1", load_then_move)
    assert check_exercise("10.2", freeze_then_move)
    torch.cuda.manual_seed(5)
    expected = torch.rand(2, device=cuda)
    torch.cuda.manual_seed(5)
    assert check_exercise("00.1", accuracy_drawing_on_the_gpu)
    assert torch.equal(torch.rand(2, device=cuda), expected)
