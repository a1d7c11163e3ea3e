"""The benchmark script's arithmetic, parsing and server timing (light: no make test or kernels)."""

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


def test_time_per_file_sums_each_files_durations_slowest_first() -> None:
    output = ("============ slowest durations ============\n"
              "2.50s call     notebooks/03_sessions.ipynb::Cell 18\n"
              "1.00s setup    notebooks/03_sessions.ipynb::Cell 0\n"
              "3.00s call     tests/test_cli.py::test_x[tokens-15]\n"
              "0.25s teardown tests/test_cli.py::test_y\n")
    assert bench.time_per_file(output) == {"notebooks/03_sessions.ipynb": 3.5,
                                           "tests/test_cli.py": 3.25}
    assert list(bench.time_per_file(output))[0] == "notebooks/03_sessions.ipynb"


def test_report_shows_cold_setup_slow_cells_and_the_rerun() -> None:
    results = {
        "setup": {"cold_setup_seconds": 12.3, "installer": "installed with uv", "empty_cache": True,
                  "cold_total_seconds": 40.0, "make_test_exit_code": 0},
        "cells": {"notebooks": {"03_sessions.ipynb": {"seconds": 6.0, "kernel_start_seconds": 0.8},
                                "09_scaling_out.ipynb": {"skipped": "needs redis-server"}},
                  "slowest_cells": [{"notebook": "03_sessions.ipynb", "cell": 48, "seconds": 2.1,
                                     "first_line": "many = {}"}]},
        "rerun": {"seconds": 20.0, "exit_code": 1,
                  "cells_that_break": {"01_x.ipynb": 2, "02_y.ipynb": 3}},
    }
    text = bench.report(results)
    assert "cold make setup (fresh clone)  12.3 s" in text
    assert "cold make test (setup + test)" in text and "40.0 s" in text
    assert "slow cell 03 #48" in text and "2.10 s" in text
    assert "5 cells break in 2 notebooks" in text
    assert "skipped: needs redis-server" in text
