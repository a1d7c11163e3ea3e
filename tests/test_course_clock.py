import time

import pytest

from helpers import CourseClock


def test_advance_moves_time_forward_without_waiting() -> None:
    clock = CourseClock()
    before = clock.time()
    clock.advance(3600)
    assert 3600 <= clock.time() - before < 3605
    assert clock.offset == 3600
    assert abs(clock.now().timestamp() - clock.time()) < 1


def test_clock_refuses_to_go_back() -> None:
    with pytest.raises(ValueError):
        CourseClock().advance(-1)


def test_moved_restores_offset_and_reset_clears_it() -> None:
    clock = CourseClock()
    clock.advance(10)
    with clock.moved(100):
        assert clock.offset == 110
    assert clock.offset == 10
    clock.reset()
    assert clock.offset == 0
    assert abs(clock.time() - time.time()) < 1
