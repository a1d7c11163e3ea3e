"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.notebook.course_clock import CourseClock, clock  # noqa: F401
