"""Old import path, kept for notebooks that use it: the code lives in the module below."""

from helpers.notebook.course_clock import *  # noqa: F403 - every public name of the new module, under the old path
