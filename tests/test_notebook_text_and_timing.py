"""The notebooks' text and timing plumbing: nested-function source, elided tokens, percentiles."""

from __future__ import annotations

import pytest

from helpers.notebook.text import elided, inner_source
from helpers.notebook.timing import percentiles, sample_us
from helpers.servers import sessions


def outer() -> None:
    def first() -> int:
        return 1

    @staticmethod
    def decorated() -> int:
        return 2


def test_inner_source_is_the_nested_function_with_its_decorators() -> None:
    assert inner_source(outer, "first") == "def first() -> int:\n    return 1\n"
    assert inner_source(outer, "decorated").startswith("@staticmethod\ndef decorated()")


def test_inner_source_reads_the_sessions_server() -> None:
    text = inner_source(sessions.create_app, "current_session")
    assert text.startswith("def current_session()") and "is_expired(" in text


def test_inner_source_fails_loudly_for_a_missing_function() -> None:
    with pytest.raises(LookupError):
        inner_source(outer, "missing")


def test_elided_keeps_both_ends_and_counts_the_middle() -> None:
    token = "a" * 10 + "b" * 80 + "c" * 10
    assert elided(token, keep=10) == "aaaaaaaaaa…(80 chars)…cccccccccc"
    assert elided("short", keep=10) == "short"


def test_samples_and_percentiles_have_the_requested_shape() -> None:
    calls = []
    samples = sample_us(lambda: calls.append(1), runs=20, batch=3)
    assert len(samples) == 20 and len(calls) == 60 and min(samples) > 0
    p = percentiles(samples)
    assert set(p) == {50, 90, 99} and min(samples) <= p[50] <= p[90] <= p[99] <= max(samples)
    assert percentiles([1.0, 2.0, 3.0], (50,)) == {50: 2.0}


def test_timing_refuses_empty_input() -> None:
    with pytest.raises(ValueError):
        sample_us(lambda: None, runs=0)
    with pytest.raises(ValueError):
        percentiles([1.0])
