import pytest

from helpers import check
from helpers.notebook.exercises import NOT_ATTEMPTED


def test_unanswered_exercise_says_so(capsys) -> None:
    assert check(None, lambda a: a == 4, "two and two") is False
    assert capsys.readouterr().out.strip() == NOT_ATTEMPTED


def test_right_answer_passes_and_wrong_one_fails_with_the_hint(capsys) -> None:
    assert check(4, lambda a: a == 4, "two and two") is True
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="two and two"):
        check(5, lambda a: a == 4, "two and two")
