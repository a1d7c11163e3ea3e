"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.notebook.exercises import NOT_ATTEMPTED, check  # noqa: F401
