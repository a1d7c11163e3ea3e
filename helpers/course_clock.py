"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.notebook.course_clock`."""

from helpers.notebook.course_clock import CourseClock, clock  # noqa: F401
