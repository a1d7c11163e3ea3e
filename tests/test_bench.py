"""The benchmark script's arithmetic and its server measurement (light: no make test or kernels)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_percentile_interpolates_between_ranks() -> None:
    assert bench.percentile([1, 2, 3, 4, 5], 50) == 3
    assert bench.percentile([1, 2, 3, 4, 5], 100) == 5
    assert bench.percentile([10, 20], 95) == pytest.approx(19.5)
    assert bench.percentile([7], 95) == 7
    with pytest.raises(ValueError):
        bench.percentile([], 50)


def test_summary_is_in_milliseconds() -> None:
    s = bench.summary([0.001, 0.002, 0.003])
    assert s == {"median_ms": 2.0, "p95_ms": 2.9, "min_ms": 1.0, "max_ms": 3.0, "runs": 3}


def test_live_server_measurement_and_report(tmp_path: Path) -> None:
    result = bench.bench_live_server(runs=3)
    assert set(result) == {"start", "first_request", "stop"}
    assert all(result[k]["runs"] == 3 and result[k]["median_ms"] > 0 for k in result)
    text = bench.report({"live_server": result})
    assert "LiveServer stop" in text and "median" in text
    json.dumps(result)  # what latest.json stores must be plain JSON


def test_pytest_summary_finds_the_result_line_and_failures() -> None:
    output = ("....F\n=== FAILURES ===\nFAILED tests/x.py::test_a - AssertionError\n"
              "\x1b[31m==== 1 failed, 4 passed in 1.00s ====\x1b[0m\nmake: *** [test] Error 1\n")
    final, failures = bench.pytest_summary(output)
    assert final == "1 failed, 4 passed in 1.00s"
    assert failures == ["FAILED tests/x.py::test_a - AssertionError"]
