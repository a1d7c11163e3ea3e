"""Self-checking exercises.

An exercise cell holds ``answer = None`` for the reader to fill in; the cell after it
calls :func:`check`. Left unanswered, the check only says so (the notebook still runs
top to bottom under nbval); answered, it says "Correct" or fails with a hint. The
solution cell, collapsed, fills in the answer and runs the same check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NOT_ATTEMPTED = "Not attempted yet: write your answer above, or open the collapsed solution below."


def check(answer: Any, is_right: Callable[[Any], bool], hint: str) -> bool:
    """Print whether ``answer`` passes ``is_right``; raise ``AssertionError(hint)`` if it does not.

    Returns True for a right answer and False for one not attempted (``None``).
    """
    if answer is None:
        print(NOT_ATTEMPTED)
        return False
    if not is_right(answer):
        raise AssertionError(f"Not yet. Hint: {hint}")
    print("Correct!")
    return True
