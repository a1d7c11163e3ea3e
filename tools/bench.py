"""Measure how long the course takes to test and run, and where the time goes.

`make bench` runs this. Four measurements, one progress line per step:

1. the wall time of a warm `make test` (one untimed run first warms the disk cache and
   the environment; `--skip-make-test` leaves this step out, `--no-warm` skips the warm-up);
2. strict nbval on each notebook alone, the way `make test` checks it;
3. start, first request and stop latency of `helpers.LiveServer`, median and p95;
4. the floor under every notebook: starting a bare ipykernel and getting the reply to one
   `execute`.

Prints a table and writes the figures to bench-results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results" / "latest.json"
NBVAL_ARGS = ["-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
              "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]


def progress(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, min and max in milliseconds of durations given in seconds."""
    return {
        "median_ms": round(statistics.median(values) * 1000, 3),
        "p95_ms": round(percentile(values, 95) * 1000, 3),
        "min_ms": round(min(values) * 1000, 3),
        "max_ms": round(max(values) * 1000, 3),
        "runs": len(values),
    }


def pytest_summary(output: str) -> tuple[str, list[str]]:
    """pytest's final "N passed ..." line (colours removed) and its FAILED/ERROR lines."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output.splitlines()]
    final = [line.strip("= ") for line in lines if re.search(r"\d+ (passed|failed|skipped|error)", line)]
    failures = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return (final[-1] if final else (lines[-1] if lines else "")), failures


def timed_run(command: Sequence[str]) -> tuple[float, int, str, list[str]]:
    """Run a command from the repository root: (seconds, exit code, pytest summary, failures)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, done.returncode, *pytest_summary(done.stdout + done.stderr)


def bench_make_test(warm: bool) -> dict[str, Any]:
    if warm:
        progress("make test (warm-up run, not timed) ...")
        timed_run(["make", "test"])
    progress("make test (timed) ...")
    seconds, code, last, failures = timed_run(["make", "test"])
    progress(f"make test: {seconds:.1f} s, exit {code}: {last}")
    for line in failures:
        progress(f"  {line[:160]}")
    return {"seconds": round(seconds, 2), "exit_code": code, "summary": last, "failures": failures}


def bench_notebooks(notebooks: Sequence[Path]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for path in notebooks:
        rel = path.relative_to(ROOT)
        seconds, code, last, failures = timed_run([sys.executable, "-m", "pytest", *NBVAL_ARGS, str(rel)])
        # a notebook whose system program is missing is skipped (exit 0, no "passed")
        status = "failed" if code else ("passed" if "passed" in last else "skipped")
        results[path.name] = {"seconds": round(seconds, 2), "status": status, "summary": last,
                              "failures": failures}
        progress(f"nbval {path.name}: {seconds:.1f} s, {status}")
    return results


def bench_live_server(runs: int) -> dict[str, Any]:
    """Start, first request, stop of a LiveServer around a one-route Flask app, `runs` times."""
    import requests
    from flask import Flask

    from helpers.live_server import LiveServer

    app = Flask("bench")

    @app.get("/")
    def index() -> str:
        return "ok"

    starts, firsts, stops = [], [], []
    for n in range(runs):
        t0 = time.perf_counter()
        server = LiveServer(app, name=f"bench-{n}").start()
        t1 = time.perf_counter()
        response = requests.get(server.url + "/", timeout=5)
        t2 = time.perf_counter()
        server.stop()
        t3 = time.perf_counter()
        assert response.status_code == 200 and not server.running
        starts.append(t1 - t0)
        firsts.append(t2 - t1)
        stops.append(t3 - t2)
    result = {"start": summary(starts), "first_request": summary(firsts), "stop": summary(stops)}
    progress("LiveServer over {} runs: start {:.2f} ms, first request {:.2f} ms, stop {:.2f} ms "
             "(medians)".format(runs, *(result[k]["median_ms"] for k in ("start", "first_request", "stop"))))
    return result


def bench_kernel(runs: int) -> dict[str, Any]:
    """Start a bare ipykernel, wait for the reply to one execute, shut it down; `runs` times."""
    from jupyter_client.manager import KernelManager

    to_reply, shutdowns = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        manager = KernelManager(kernel_name="python3")
        manager.start_kernel(cwd=str(ROOT / "notebooks"), stderr=subprocess.DEVNULL)
        client = manager.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive("1 + 1", timeout=60, store_history=False,
                                               output_hook=lambda msg: None)
            t1 = time.perf_counter()
            assert reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=False)
        t2 = time.perf_counter()
        to_reply.append(t1 - t0)
        shutdowns.append(t2 - t1)
    result = {"start_to_first_reply": summary(to_reply), "shutdown": summary(shutdowns)}
    progress(f"bare kernel over {runs} runs: start to first reply "
             f"{result['start_to_first_reply']['median_ms']:.0f} ms (median)")
    return result


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def report(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    if "make_test" in results:
        mt = results["make_test"]
        rows.append(("make test (warm)", f"{mt['seconds']:.1f} s  (exit {mt['exit_code']})"))
    nbs = results.get("notebooks", {})
    for name, nb in nbs.items():
        rows.append((f"nbval {name}", f"{nb['seconds']:.1f} s  {nb['status']}"))
    if nbs:
        rows.append(("nbval, all notebooks one by one", f"{sum(nb['seconds'] for nb in nbs.values()):.1f} s"))
    for key, label in (("start", "start"), ("first_request", "first request"), ("stop", "stop")):
        if "live_server" in results:
            s = results["live_server"][key]
            rows.append((f"LiveServer {label}", f"median {s['median_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms"))
    if "kernel" in results:
        k = results["kernel"]["start_to_first_reply"]
        rows.append(("bare kernel: start to first reply", f"median {k['median_ms']:.0f} ms, p95 {k['p95_ms']:.0f} ms"))
    return table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-make-test", action="store_true", help="leave out the make test timing")
    parser.add_argument("--no-warm", action="store_true", help="time make test without a warm-up run")
    parser.add_argument("--skip-notebooks", action="store_true", help="leave out nbval per notebook")
    parser.add_argument("--server-runs", type=int, default=50)
    parser.add_argument("--kernel-runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    steps: list[tuple[str, Callable[[], Any]]] = []
    if not args.skip_make_test:
        steps.append(("make_test", lambda: bench_make_test(warm=not args.no_warm)))
    if not args.skip_notebooks:
        steps.append(("notebooks", lambda: bench_notebooks(notebooks)))
    steps.append(("live_server", lambda: bench_live_server(args.server_runs)))
    steps.append(("kernel", lambda: bench_kernel(args.kernel_runs)))
    for n, (key, step) in enumerate(steps, start=1):
        progress(f"step {n}/{len(steps)}: {key.replace('_', ' ')}")
        results[key] = step()

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    print(report(results))
    print(f"\nwritten to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    failed = results.get("make_test", {}).get("exit_code", 0) != 0 or any(
        nb["status"] == "failed" for nb in results.get("notebooks", {}).values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
