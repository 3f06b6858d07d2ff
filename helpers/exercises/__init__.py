"""Checked exercises: each notebook's exercise cells call :func:`check_exercise` with the learner's answer.

One module per notebook (``nb00`` ... ``nb11``) lists its checks in ``CHECKS``; the reference
solutions live outside the package and the notebooks, in ``solutions/``, and
``tests/test_exercises.py`` proves that every check accepts its solution and rejects the typical
mistakes listed there.

Example:
    >>> from helpers.exercises import check_exercise
    >>> check_exercise("00.1", accuracy)
    Exercise 00.1, ✔ correct: ...
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from helpers.exercises import nb00, nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09, nb10, nb11
from helpers.exercises.core import Check, CheckResult, Hint, run_check

#: Exercise id ("05.2": notebook 05, exercise 2) -> its check, read-only.
CHECKS: MappingProxyType[str, Check] = MappingProxyType({
    i: check for module in (nb00, nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09, nb10, nb11)
    for i, check in module.CHECKS.items()
})

__all__ = ["CHECKS", "CheckResult", "Hint", "check_exercise", "exercise_ids"]


def exercise_ids(notebook: str | None = None) -> list[str]:
    """The exercise ids in order, all of them or those of one notebook.

    Args:
        notebook: ``"05"`` for notebook 05's, or None for all.

    Returns:
        Ids such as ``["05.1", "05.2", ...]``.
    """
    return sorted((i for i in CHECKS if notebook is None or i.startswith(f"{notebook}.")),
                  key=lambda i: (i[:2], int(i[3:])))


def check_exercise(exercise_id: str, answer: Any) -> CheckResult:
    """Check a learner's answer to one exercise.

    Args:
        exercise_id: ``"NN.k"``, as printed above the exercise in notebook ``NN``.
        answer: The function, class or value the exercise asks for. ``...`` (the placeholder)
            or a stub that still raises its ``NotImplementedError`` counts as not answered.

    Returns:
        A :class:`CheckResult`, truthy when correct; a notebook cell ending with this call shows its message.

    Example:
        >>> check_exercise("00.1", accuracy)
        Exercise 00.1, ✔ correct: ...
    """
    if exercise_id not in CHECKS:
        raise KeyError(f"no exercise {exercise_id!r}; the exercises are {', '.join(exercise_ids())}")
    return run_check(exercise_id, CHECKS[exercise_id], answer)
