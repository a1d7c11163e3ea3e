"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.notebook.exercises`."""

from helpers.notebook.exercises import NOT_ATTEMPTED, check  # noqa: F401
