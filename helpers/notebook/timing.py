"""Timing samples for the notebooks' cost comparisons, as distributions.

A single "best of 3" hides the tail: a lookup that is usually fast but sometimes
waits on the scheduler or the network looks as cheap as one that never waits. So
the notebooks take many samples (each one the mean of a small batch of calls,
which keeps the timer's own overhead out) and report percentiles. The figures
depend on the machine and its load; a notebook asserts on their shape (counts,
ordering of percentiles), never on a speed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def sample_us(fn: Callable[[], Any], *, runs: int = 200, batch: int = 10) -> list[float]:
    """``runs`` samples of ``fn``'s cost in microseconds, each the mean over ``batch`` calls."""
    if runs < 1 or batch < 1:
        raise ValueError("runs and batch must be at least 1")
    clock = time.perf_counter
    samples = []
    for _ in range(runs):
        started = clock()
        for _ in range(batch):
            fn()
        samples.append((clock() - started) / batch * 1e6)
    return samples


def percentiles(samples: list[float], points: tuple[int, ...] = (50, 90, 99)) -> dict[int, float]:
    """The requested percentiles of ``samples`` (inclusive method: always within the data)."""
    if len(samples) < 2:
        raise ValueError("need at least two samples")
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in points}
