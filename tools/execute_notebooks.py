"""Re-run notebooks top to bottom, each in a fresh kernel, and store the outputs in place.

The stored outputs are part of the course and are nbval's oracle, so they must come
from exactly this: one clean run from the first cell to the last. Usage:

    python tools/execute_notebooks.py notebooks/01_http_connections_and_state.ipynb ...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CELL_TIMEOUT = 120


def coalesce_streams(outputs: list) -> list:
    """Join consecutive writes to the same stream, as nbval does before it compares.

    One print() may reach the kernel as several messages, split wherever a flush fell;
    joined, the stored output is the same text on every run.
    """
    joined: list = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def execute(path: Path) -> tuple[Path, float, str | None]:
    """Run one notebook in a fresh kernel; write it back only if every cell succeeded."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    # IPC sockets: the kernel is private to this process (and ipykernel warns about plain TCP)
    sockets = tempfile.TemporaryDirectory(prefix="nbexec-")
    kernel = KernelManager(kernel_name="python3", transport="ipc",
                           ip=str(Path(sockets.name) / "kernel"))
    client = NotebookClient(
        nb,
        km=kernel,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        return path, time.perf_counter() - started, str(exc).splitlines()[-1][:300]
    finally:
        if kernel.has_kernel:
            kernel.shutdown_kernel()
        sockets.cleanup()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
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
