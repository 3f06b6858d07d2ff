"""Checked exercises: each notebook's exercise cells call :func:`check_exercise` with the learner's answer.

One module per notebook (``nb00`` ... ``nb11``) registers its checks; the reference solutions live
outside the package and the notebooks, in ``solutions/``, and ``tests/test_exercises.py`` proves that
every check accepts its solution and rejects the typical mistakes listed there.

Example:
    >>> from helpers.exercises import check_exercise
    >>> check_exercise("00.1", accuracy)
    Exercise 00.1, ✔ correct: ...
"""

from helpers.exercises import nb00, nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09, nb10, nb11  # noqa: F401
from helpers.exercises.core import CheckResult, Hint, check_exercise, exercise_ids

__all__ = ["CheckResult", "Hint", "check_exercise", "exercise_ids"]
