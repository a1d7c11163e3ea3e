"""Re-run notebooks top to bottom, each in a fresh kernel, and store the outputs in place.

The stored outputs are part of the course and are nbval's oracle, so they must come
from exactly this: one clean run from the first cell to the last. Usage:

    python tools/execute_notebooks.py notebooks/01_http_connections_and_state.ipynb ...
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CELL_TIMEOUT = 120


def execute(path: Path) -> tuple[Path, float, str | None]:
    """Run one notebook in a fresh kernel; write it back only if every cell succeeded."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        return path, time.perf_counter() - started, str(exc).splitlines()[-1][:300]
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return path, time.perf_counter() - started, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("-j", "--jobs", type=int, default=2, help="notebooks run at once")
    args = parser.parse_args(argv)
    failed = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, seconds, error in pool.map(execute, args.notebooks):
            status = "ok" if error is None else f"FAILED, not written: {error}"
            print(f"{path}  {seconds:5.1f} s  {status}", flush=True)
            failed += error is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
