"""The machinery behind the notebooks' checked exercises: run one check, and call the learner's code safely.

A check is a function that receives what the learner wrote (a function, a class or a value), tries
it on inputs of its own, and either returns a short confirmation or raises :class:`Hint` with a
message that says what is wrong and what to look at. The learner's code is always called through
:func:`call`, so an exception inside it becomes a message that names the exercise instead of a
traceback from inside the checker. Each ``nbNN`` module lists its checks in a ``CHECKS`` dict;
``helpers.exercises`` collects them.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import random
import sysconfig
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

Status = Literal["correct", "wrong", "unanswered"]
Check = Callable[[Any], str]

_MARKS = {"correct": "✔ correct", "wrong": "✘ not yet", "unanswered": "… not answered yet"}
_UNANSWERED = "replace `raise NotImplementedError` above with your code, run that cell, then this one."
CHECK_FAILED = "checking your answer failed with"


class Hint(Exception):
    """Raised by a check: the answer is wrong, and the message says why and what to try."""


class NotAnswered(Exception):
    """Raised by :func:`call` when the learner's stub still raises its ``NotImplementedError``."""


@dataclass(frozen=True)
class CheckResult:
    """What a check found: truthy only when the answer is correct.

    Its ``repr`` is the message, so a check cell that ends with ``check_exercise(...)`` shows it.
    """

    exercise: str
    status: Status
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __repr__(self) -> str:
        return f"Exercise {self.exercise}, {_MARKS[self.status]}: {self.message}"


@contextmanager
def _sandbox() -> Iterator[None]:
    """Run a check without touching the learner's session: random states and grad mode are restored.

    Checks seed what they draw, and their own ``backward()`` calls need gradients even when the
    notebook turned them off.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    # CUDA's generators too, where the learner's session already started CUDA (not started just for this).
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=cuda), torch.enable_grad():
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def run_check(exercise_id: str, check: Check, answer: Any) -> CheckResult:
    """Run ``check`` on ``answer`` and turn its outcome into a :class:`CheckResult`.

    Args:
        exercise_id: ``"NN.k"``, for the message.
        check: The exercise's check.
        answer: What the learner wrote; ``...`` counts as not answered.

    Returns:
        ``correct`` with the check's confirmation, ``unanswered``, or ``wrong`` with the hint.
    """
    if answer is ...:
        return CheckResult(exercise_id, "unanswered", "replace the `...` above with your answer, run that cell, "
                                                      "then this one.")
    try:
        with _sandbox():
            message = check(answer)
    except NotAnswered:
        return CheckResult(exercise_id, "unanswered", _UNANSWERED)
    except Hint as hint:
        return CheckResult(exercise_id, "wrong", str(hint))
    except Exception as error:  # an answer of another kind than asked (a value for a function, ...), or a bug here
        return CheckResult(exercise_id, "wrong", f"{CHECK_FAILED} {type(error).__name__}: {error!s:.300}. Is your "
                                                 "answer the kind of thing the exercise asks for? If it is, and it "
                                                 "looks right, this may be a bug in the check: please report it.")
    return CheckResult(exercise_id, "correct", message)


def _source_files(answer: Any) -> set[str]:
    """The files holding the learner's code: a function's, a method's, or every method's of a class."""
    while isinstance(answer, functools.partial):
        answer = answer.func
    answer = inspect.unwrap(answer) if inspect.isroutine(answer) else answer   # through decorators
    target = answer if inspect.isclass(answer) or inspect.isroutine(answer) else type(answer)
    functions = [getattr(f, "__func__", f) for f in vars(target).values()] if inspect.isclass(target) else [target]
    return {f.__code__.co_filename for f in (getattr(f, "__func__", f) for f in functions) if hasattr(f, "__code__")}


def _not_implemented(error: NotImplementedError, answer: Any) -> Exception:
    """What a ``NotImplementedError`` means: the stub itself, another exercise's stub, or a library's refusal."""
    frames = traceback.extract_tb(error.__traceback__)
    where = frames[-1] if frames else None
    if where is not None and where.filename in _source_files(answer):
        return NotAnswered()
    libraries = {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib")}
    if where is not None and not any(where.filename.startswith(folder) for folder in libraries):
        return Hint(f"`{where.name}`, which your code calls, still raises NotImplementedError: answer that exercise "
                    "first, or write this one without it")
    return Hint(f"your code reached a NotImplementedError raised inside PyTorch ({str(error) or 'no message'}): a "
                "method PyTorch expects is missing or misnamed (`make_params` and `transform` for a `v2.Transform`, "
                "`forward` for an `nn.Module`), or an operation got a dtype it does not support")


#: Error texts every check can explain: its inputs are CPU tensors of its own.
_DEVICE_HINTS = [("same device", "the check runs your code on the CPU, with inputs of its own: leave `.to(device)` "
                                 "to whoever calls your function."),
                 ("should be the same", "the check runs your code on the CPU, with inputs of its own: leave "
                                        "`.to(device)` to whoever calls your function.")]


def call(answer: Any, *args: Any, hints: Iterable[tuple[str, str]] = (), returns: bool = True, **kwargs: Any) -> Any:
    """Call the learner's function or class; turn what it raises into a :class:`Hint`.

    Args:
        answer: The learner's callable.
        *args, **kwargs: Passed to it.
        hints: ``(text, hint)`` pairs: when the error message contains ``text``, ``hint`` is added,
            for the mistakes whose error message is known (a shape mismatch, a missing key).
        returns: Whether the answer must return something; ``None`` then means a forgotten ``return``.

    Returns:
        What the answer returned.

    Raises:
        NotAnswered: When the stub's own ``raise NotImplementedError`` is still there.
        Hint: For any other exception, naming it, and for a missing return value.
    """
    if not callable(answer):
        raise Hint(f"the exercise asks for a function or a class, and got {type(answer).__name__} {answer!r:.60}")
    try:
        result = answer(*args, **kwargs)
    except NotImplementedError as error:
        raise _not_implemented(error, answer) from error
    except Exception as error:  # whatever the learner's code raises is reported, not re-raised
        text = f"{type(error).__name__}: {error}"
        extra = list(dict.fromkeys(hint for needle, hint in [*hints, *_DEVICE_HINTS] if needle in text))
        raise Hint(f"your code raised {text.strip()}" + (f". Hint: {' '.join(extra)}" if extra else "")) from error
    if returns and result is None:
        raise Hint("your function returned None: is a `return` missing?")
    return result


def expect(condition: bool, hint: str) -> None:
    """Raise :class:`Hint` with ``hint`` unless ``condition`` holds.

    Args:
        condition: What must hold.
        hint: The message for the learner when it does not.
    """
    if not condition:
        raise Hint(hint)


def number(value: Any, what: str) -> float:
    """``value`` as a float; a :class:`Hint` when it is not a plain number (a tensor, a list, ...).

    Args:
        value: What the learner returned; Python and NumPy numbers are accepted.
        what: What it is, for the message ("the accuracy").

    Returns:
        ``float(value)``.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()                                     # e.g. `.mean().numpy()`
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        kind = f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
        raise Hint(f"{what} should be a Python number, and is {kind}"
                   + (": `.item()` turns a one-element tensor into one" if isinstance(value, torch.Tensor) else ""))
    return float(value)


def pair(value: Any, what: str) -> tuple[Any, Any]:
    """``value`` as a 2-tuple; a :class:`Hint` naming ``what`` (``"(train, val)"``) when it is not a pair.

    Args:
        value: What the learner returned.
        what: The pair expected, for the message.

    Returns:
        The two items.
    """
    expect(isinstance(value, (tuple, list)) and len(value) == 2, f"return a pair: {what}; got "
           f"{type(value).__name__}" + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""))
    return value[0], value[1]
