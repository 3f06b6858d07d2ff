"""Reference solutions to the notebooks' checked exercises, one module per notebook.

Try an exercise in the notebook first: its check cell explains what is wrong. Each module has
``SOLUTIONS`` (exercise id -> the answer) and ``MISTAKES`` (exercise id -> typical wrong answers,
each with a piece of the hint it gets); ``tests/test_exercises.py`` runs every one through
``helpers.exercises.check_exercise``.
"""
