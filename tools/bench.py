"""Measure how long the course takes to test and run, and where the time goes.

`make bench` runs this (`make bench BENCH_ARGS="--cold"` for a cold setup too). One progress
line per step:

1. setup: `make setup` when it is up to date; with `--cold`, a fresh clone of the committed
   course, timed through `make setup` (the cold install) and then `make test` (so cold
   `make test` = both); `--empty-cache` also empties the uv and pip download caches;
2. the wall time of a warm `make test` (one untimed run first warms the disk cache and
   the environment; `--skip-make-test` leaves this step out, `--no-warm` skips the warm-up),
   with the time each test file took (summed over its tests, so worker time, not wall time);
3. strict nbval on each notebook alone, the way `make test` checks it;
4. each notebook under nbclient in a fresh kernel, as `make notebooks` runs it (nothing is
   written): kernel start, time per notebook, and the slowest code cells;
5. the re-run test (`make rerun`: every code cell twice in a row) and how many cells break;
6. start, first request and stop latency of `helpers.LiveServer`, median and p95;
7. the floor under every notebook: starting a bare ipykernel and getting the reply to one
   `execute`.

Prints a table and writes the figures to bench-results/latest.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
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
    final = [line.strip("= ") for line in lines
             if re.search(r"\d+ (passed|failed|skipped|error)", line)]
    failures = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return (final[-1] if final else (lines[-1] if lines else "")), failures


DURATION = re.compile(r"^(\d+\.\d+)s (?:call|setup|teardown)\s+([^:\s]+)::", re.MULTILINE)


def time_per_file(output: str) -> dict[str, float]:
    """Seconds per test file from pytest's ``--durations=0`` lines, slowest first."""
    per_file: dict[str, float] = defaultdict(float)
    for seconds, path in DURATION.findall(output):
        per_file[path] += float(seconds)
    return dict(sorted(((k, round(v, 2)) for k, v in per_file.items()), key=lambda kv: -kv[1]))


def timed_run(command: Sequence[str], cwd: Path = ROOT, env: dict[str, str] | None = None,
              ) -> tuple[float, int, str, list[str], str]:
    """Run a command: (seconds, exit code, pytest summary, failures, whole output)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    return seconds, done.returncode, *pytest_summary(output), output


def bench_setup(cold: bool, empty_cache: bool) -> dict[str, Any]:
    """`make setup` as it is, or in a fresh clone: the cold install, then `make test` there."""
    if not cold:
        seconds, code, *_ = timed_run(["make", "setup"])
        progress(f"make setup (up to date): {seconds:.2f} s")
        return {"up_to_date_seconds": round(seconds, 2), "exit_code": code}
    scratch = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    env = {"UV_CACHE_DIR": str(scratch / "uv-cache"), "PIP_CACHE_DIR": str(scratch / "pip-cache")}
    env = env if empty_cache else {}
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(scratch / "course")], check=True)
        progress("cold: make setup in a fresh clone ...")
        setup, setup_code, _, _, output = timed_run(["make", "setup"], scratch / "course", env)
        installer = next((line for line in output.splitlines() if "installed requirements"
                          in line or "installing requirements" in line), "")
        progress(f"cold make setup: {setup:.1f} s ({installer.strip()})")
        progress("cold: make test in that clone ...")
        test, code, last, failures, _ = timed_run(["make", "test"], scratch / "course")
        progress(f"cold make test after setup: {test:.1f} s, exit {code}: {last}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"cold_setup_seconds": round(setup, 2), "setup_exit_code": setup_code,
            "installer": installer.strip(), "empty_cache": empty_cache,
            "cold_make_test_seconds": round(test, 2), "make_test_exit_code": code,
            "cold_total_seconds": round(setup + test, 2), "summary": last, "failures": failures}


def bench_make_test(warm: bool) -> dict[str, Any]:
    if warm:
        progress("make test (warm-up run, not timed) ...")
        timed_run(["make", "test"])
    progress("make test (timed) ...")
    durations = {"PYTEST_ADDOPTS": "--durations=0 --durations-min=0.005"}
    seconds, code, last, failures, output = timed_run(["make", "test"], env=durations)
    progress(f"make test: {seconds:.1f} s, exit {code}: {last}")
    for line in failures:
        progress(f"  {line[:160]}")
    files = time_per_file(output)
    return {"seconds": round(seconds, 2), "exit_code": code, "summary": last, "failures": failures,
            "seconds_per_file": files}


def bench_notebooks(notebooks: Sequence[Path]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for path in notebooks:
        rel = path.relative_to(ROOT)
        seconds, code, last, failures, _ = timed_run(
            [sys.executable, "-m", "pytest", *NBVAL_ARGS, str(rel)])
        # a notebook whose system program is missing is skipped (exit 0, no "passed")
        status = "failed" if code else ("passed" if "passed" in last else "skipped")
        results[path.name] = {"seconds": round(seconds, 2), "status": status, "summary": last,
                              "failures": failures}
        progress(f"nbval {path.name}: {seconds:.1f} s, {status}")
    return results


def _needs_missing_binary(path: Path) -> str | None:
    """The reason conftest.py's NEEDS_BINARY gives for skipping ``path`` here, if any."""
    spec = importlib.util.spec_from_file_location("course_collection_rules", ROOT / "conftest.py")
    assert spec and spec.loader
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    for prefix, (binary, package) in rules.NEEDS_BINARY.items():
        if path.name.startswith(prefix) and shutil.which(binary) is None:
            return f"needs {binary} ({package})"
    return None


def bench_cells(notebooks: Sequence[Path], top: int) -> dict[str, Any]:
    """Each notebook in a fresh kernel under nbclient: kernel start, total, slowest cells."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    per_notebook: dict[str, Any] = {}
    cells: list[dict[str, Any]] = []
    for path in notebooks:
        if reason := _needs_missing_binary(path):
            per_notebook[path.name] = {"skipped": reason}
            continue
        nb = nbformat.read(path, as_version=4)
        sockets = tempfile.mkdtemp(prefix="bench-")
        kernel = KernelManager(kernel_name="python3", transport="ipc",
                               ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(nb, km=kernel, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        started = time.perf_counter()
        try:
            with client.setup_kernel():
                kernel_start = time.perf_counter() - started
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    t0 = time.perf_counter()
                    client.execute_cell(cell, index)
                    cells.append({"notebook": path.name, "cell": index,
                                  "seconds": round(time.perf_counter() - t0, 3),
                                  "first_line": cell.source.splitlines()[0][:70]
                                  if cell.source else ""})
        finally:
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
            shutil.rmtree(sockets, ignore_errors=True)
        total = time.perf_counter() - started
        per_notebook[path.name] = {"kernel_start_seconds": round(kernel_start, 3),
                                   "seconds": round(total, 2)}
        progress(f"nbclient {path.name}: {total:.1f} s (kernel start {kernel_start:.2f} s)")
    slowest = sorted(cells, key=lambda c: -c["seconds"])[:top]
    return {"notebooks": per_notebook, "slowest_cells": slowest}


def bench_rerun() -> dict[str, Any]:
    """`make rerun`: its wall time, and how many cells break when run twice in a row."""
    progress("make rerun ...")
    seconds, code, last, _, output = timed_run(["make", "rerun"])
    broken = {nb: int(n) for nb, n in re.findall(r"(\S+\.ipynb): (\d+) cell\(s\) break", output)}
    progress(f"make rerun: {seconds:.1f} s, exit {code}: {last}; cells that break: "
             f"{sum(broken.values())} in {len(broken)} notebooks")
    return {"seconds": round(seconds, 2), "exit_code": code, "summary": last,
            "cells_that_break": broken}


def bench_live_server(runs: int) -> dict[str, Any]:
    """Start, first request, stop of a LiveServer around a one-route Flask app, `runs` times."""
    import requests
    from flask import Flask

    from helpers.notebook.live_server import LiveServer

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
    medians = (result[k]["median_ms"] for k in ("start", "first_request", "stop"))
    progress("LiveServer over {} runs: start {:.2f} ms, first request {:.2f} ms, stop {:.2f} ms "
             "(medians)".format(runs, *medians))
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
    setup = results.get("setup", {})
    if "up_to_date_seconds" in setup:
        rows.append(("make setup (up to date)", f"{setup['up_to_date_seconds']:.2f} s"))
    if "cold_setup_seconds" in setup:
        cache = "empty caches" if setup["empty_cache"] else "download caches as they were"
        rows.append(("cold make setup (fresh clone)",
                     f"{setup['cold_setup_seconds']:.1f} s  {setup['installer']} ({cache})"))
        rows.append(("cold make test (setup + test)",
                     f"{setup['cold_total_seconds']:.1f} s  (exit {setup['make_test_exit_code']})"))
    if "make_test" in results:
        mt = results["make_test"]
        rows.append(("make test (warm)", f"{mt['seconds']:.1f} s  (exit {mt['exit_code']})"))
        for path, seconds in list(mt.get("seconds_per_file", {}).items())[:8]:
            rows.append((f"  in {path}", f"{seconds:.1f} s (summed over its tests)"))
    nbs = results.get("notebooks", {})
    for name, nb in nbs.items():
        rows.append((f"nbval {name}", f"{nb['seconds']:.1f} s  {nb['status']}"))
    if nbs:
        rows.append(("nbval, all notebooks one by one",
                     f"{sum(nb['seconds'] for nb in nbs.values()):.1f} s"))
    cells = results.get("cells", {})
    for name, nb in cells.get("notebooks", {}).items():
        if "skipped" in nb:
            rows.append((f"nbclient {name}", f"skipped: {nb['skipped']}"))
        else:
            rows.append((f"nbclient {name}",
                         f"{nb['seconds']:.1f} s, kernel start {nb['kernel_start_seconds']:.2f} s"))
    for cell in cells.get("slowest_cells", []):
        rows.append((f"  slow cell {cell['notebook'][:2]} #{cell['cell']}",
                     f"{cell['seconds']:.2f} s  {cell['first_line']}"))
    if "rerun" in results:
        rr = results["rerun"]
        broken = rr["cells_that_break"]
        rows.append(("make rerun (every cell twice)",
                     f"{rr['seconds']:.1f} s  (exit {rr['exit_code']}; "
                     f"{sum(broken.values())} cells break in {len(broken)} notebooks)"))
    for key, label in (("start", "start"), ("first_request", "first request"), ("stop", "stop")):
        if "live_server" in results:
            s = results["live_server"][key]
            rows.append((f"LiveServer {label}",
                         f"median {s['median_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms"))
    if "kernel" in results:
        k = results["kernel"]["start_to_first_reply"]
        rows.append(("bare kernel: start to first reply",
                     f"median {k['median_ms']:.0f} ms, p95 {k['p95_ms']:.0f} ms"))
    return table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true",
                        help="also time make setup and make test in a fresh clone")
    parser.add_argument("--empty-cache", action="store_true",
                        help="with --cold: empty uv and pip download caches")
    parser.add_argument("--skip-make-test", action="store_true",
                        help="leave out the make test timing")
    parser.add_argument("--no-warm", action="store_true",
                        help="time make test without a warm-up run")
    parser.add_argument("--skip-notebooks", action="store_true",
                        help="leave out nbval and nbclient per notebook")
    parser.add_argument("--skip-rerun", action="store_true", help="leave out make rerun")
    parser.add_argument("--slowest", type=int, default=10, help="slowest cells to list")
    parser.add_argument("--server-runs", type=int, default=50)
    parser.add_argument("--kernel-runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    notebooks = ([p.resolve() for p in args.notebooks]
                 or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "load_average": os.getloadavg()},
    }
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("setup", lambda: bench_setup(args.cold, args.empty_cache))]
    if not args.skip_make_test:
        steps.append(("make_test", lambda: bench_make_test(warm=not args.no_warm)))
    if not args.skip_notebooks:
        steps.append(("notebooks", lambda: bench_notebooks(notebooks)))
        steps.append(("cells", lambda: bench_cells(notebooks, args.slowest)))
    if not args.skip_rerun:
        steps.append(("rerun", bench_rerun))
    steps.append(("live_server", lambda: bench_live_server(args.server_runs)))
    steps.append(("kernel", lambda: bench_kernel(args.kernel_runs)))
    for n, (key, step) in enumerate(steps, start=1):
        progress(f"step {n}/{len(steps)}: {key.replace('_', ' ')}")
        results[key] = step()

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    print()
    print(report(results))
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"\nwritten to {shown}")
    failed = results.get("make_test", {}).get("exit_code", 0) != 0 or any(
        nb["status"] == "failed" for nb in results.get("notebooks", {}).values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
