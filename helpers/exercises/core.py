"""The machinery behind the notebooks' checked exercises: a registry of checks and one call to run one.

A check receives what the learner wrote (a function, a class or a value), tries it on inputs of
its own, and either returns a short confirmation or raises :class:`Hint` with a message that says
what is wrong and what to look at. The learner's code is always called through :func:`call`, so
an exception inside it becomes a message that names the exercise instead of a traceback from
inside the checker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch

Status = Literal["correct", "wrong", "unanswered"]
Check = Callable[[Any], str]

_CHECKS: dict[str, Check] = {}
_MARKS = {"correct": "✔ correct", "wrong": "✘ not yet", "unanswered": "… not answered yet"}


class Hint(Exception):
    """Raised by a check: the answer is wrong, and the message says why and what to try."""


class NotAnswered(Exception):
    """Raised by :func:`call` when the learner's stub still raises ``NotImplementedError``."""


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check_exercise` found: truthy only when the answer is correct.

    Its ``repr`` is the message, so a check cell that ends with ``check_exercise(...)`` shows it.
    """

    exercise: str
    status: Status
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __repr__(self) -> str:
        return f"Exercise {self.exercise}, {_MARKS[self.status]}: {self.message}"


def exercise(exercise_id: str) -> Callable[[Check], Check]:
    """Register a check under an id ``"NN.k"``: notebook ``NN``, exercise ``k``."""
    notebook, _, number = exercise_id.partition(".")
    if not (len(notebook) == 2 and notebook.isdigit() and number.isdigit()):
        raise ValueError(f"exercise ids look like '05.2', got {exercise_id!r}")

    def register(check: Check) -> Check:
        if exercise_id in _CHECKS:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        _CHECKS[exercise_id] = check
        return check

    return register


def exercise_ids(notebook: str | None = None) -> list[str]:
    """The registered ids in order, all of them or those of one notebook (``"05"``)."""
    return sorted((i for i in _CHECKS if notebook is None or i.startswith(f"{notebook}.")),
                  key=lambda i: (i[:2], int(i[3:])))


def check_exercise(exercise_id: str, answer: Any) -> CheckResult:
    """Check a learner's answer to one exercise.

    Args:
        exercise_id: ``"NN.k"``, as printed above the exercise in notebook ``NN``.
        answer: The function, class or value the exercise asks for. ``...`` (the placeholder)
            or a function that still raises ``NotImplementedError`` counts as not answered.

    Returns:
        A :class:`CheckResult`; a notebook cell ending with this call shows its message.

    Example:
        >>> check_exercise("00.1", accuracy)
        Exercise 00.1, ✔ correct: ...
    """
    if exercise_id not in _CHECKS:
        raise KeyError(f"no exercise {exercise_id!r}; the exercises are {', '.join(exercise_ids())}")
    if answer is ...:
        return CheckResult(exercise_id, "unanswered", "replace the `...` above with your answer, run that cell, "
                                                      "then this one.")
    try:
        with torch.random.fork_rng(devices=[]):                  # checks seed their own draws; the learner's
            message = _CHECKS[exercise_id](answer)                # random state is restored afterwards
    except NotAnswered:
        return CheckResult(exercise_id, "unanswered", "replace `raise NotImplementedError` above with your code, "
                                                      "run that cell, then this one.")
    except Hint as hint:
        return CheckResult(exercise_id, "wrong", str(hint))
    except Exception as error:  # an answer of the wrong kind (a value for a function, ...)
        return CheckResult(exercise_id, "wrong", f"checking your answer failed with {type(error).__name__}: "
                                                 f"{error}. Is it the kind of thing the exercise asks for?")
    return CheckResult(exercise_id, "correct", message)


def call(answer: Any, *args: Any, hints: Iterable[tuple[str, str]] = (), **kwargs: Any) -> Any:
    """Call the learner's function or class; turn what it raises into a :class:`Hint`.

    Args:
        answer: The learner's callable.
        *args, **kwargs: Passed to it.
        hints: ``(text, hint)`` pairs: when the error message contains ``text``, ``hint`` is added,
            for the mistakes whose error message is known (a shape mismatch, a missing key).

    Raises:
        NotAnswered: When it raises ``NotImplementedError`` (the stub is still there).
        Hint: For any other exception, naming it.
    """
    if not callable(answer):
        raise Hint(f"the exercise asks for a function or a class, and got {type(answer).__name__} {answer!r:.60}")
    try:
        return answer(*args, **kwargs)
    except NotImplementedError as error:
        raise NotAnswered from error
    except Exception as error:  # whatever the learner's code raises is reported, not re-raised
        text = f"{type(error).__name__}: {error}"
        extra = [hint for needle, hint in hints if needle in text]
        raise Hint(f"your code raised {text.strip()}" + (f". Hint: {' '.join(extra)}" if extra else "")) from error


def expect(condition: bool, hint: str) -> None:
    """Raise :class:`Hint` with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise Hint(hint)


def number(value: Any, what: str) -> float:
    """``value`` as a float, or a :class:`Hint` that says a Python number was expected."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = f"a tensor of shape {tuple(value.shape)}" if hasattr(value, "shape") else type(value).__name__
        raise Hint(f"{what} should be a Python number, and is {kind}"
                   + (": `.item()` turns a one-element tensor into one" if hasattr(value, "item") else ""))
    return float(value)
