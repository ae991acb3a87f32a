"""A developer's harness for the sidecar's cost per trivial cell (not a `python -m bench` suite).

Compare source trees, interleaved (each round runs every tree once, so drift hits them alike)::

    python -m bench.sidecar_profile cpu TREE [TREE ...] [--rounds 5] [--cells 300]

Each tree gets its own kernel (started with ``PYTHONPATH=TREE``, so the extension and its sidecar
come from that tree) and gclog home. A round is ``%load_ext gclog``, ``--cells`` trivial cells,
a wait until the store has them all, ``%unload_ext gclog`` and as many cells with nothing
observing. Printed per tree: the sidecar's CPU time (its threads' run time, schedstat) ÷ cells,
per round and its median, and the client-seen median per cell on and off.

Profile one tree's sidecar with cProfile::

    python -m bench.sidecar_profile profile TREE [--cells 1000] [--out sidecar.prof]

starts the sidecar itself (``python -m cProfile -m gclog.entry.sidecar_process``, as the
extension starts it, less the loading cell), drives the cells, waits for their records, stops it
with SIGTERM (it drains and ends; cProfile writes on exit) and prints the top functions.

Or sample the sidecar that ``%load_ext gclog`` starts with py-spy (no instrumentation, every
thread, only the samples where it ran: where its CPU goes), written as collapsed stacks::

    python -m bench.sidecar_profile spy TREE --py-spy PATH/TO/py-spy [--cells 1000] [--out spy.txt]

Only jupyter_client, psutil and bench.extension's helpers (no gclog) are imported here: which gclog
runs is the tree's.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.manager import KernelManager, start_new_kernel

from bench.extension import recorded, run_time, sidecar, timed, wait_recorded

WARMUP = 50


def cells_cpu(kernel: Kernel, process: psutil.Process, session_id: str, cells: int) -> float:
    """Run ``cells`` trivial cells, wait until all are stored: the sidecar's CPU seconds per cell."""
    before = run_time(process)
    for i in range(cells):
        timed(kernel.client, f"x = {i}")
    wait_recorded(kernel.home / "store.sqlite3", session_id, cells)
    return (run_time(process) - before) / cells


def measured_under(
    tool: str,
    watcher: subprocess.Popen[Any],
    stop: signal.Signals,
    kernel: Kernel,
    process: psutil.Process,
    session_id: str,
    cells: int,
) -> None:
    """Run the cells while ``watcher`` (the profiled sidecar, or py-spy) watches, stop it with
    ``stop`` and print the sidecar's CPU per cell."""
    used = cells_cpu(kernel, process, session_id, cells)
    watcher.send_signal(stop)
    watcher.wait(60)
    print(f"sidecar CPU under {tool}: {used * 1000:.3f} ms/cell over {cells} cells")


def threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each of the process's threads by name ("main" for the
    main thread; libzmq names its I/O thread), from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue
        name = "main" if task.name == str(pid) else text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rpartition(")")[2].split()
        found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return found


def environment(tree: Path, scratch: Path, extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(tree),
        "GCLOG_HOME": str(scratch / "gclog"),
        "IPYTHONDIR": str(scratch / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "PYTHONWARNINGS": "ignore",
        **extra,
    }


class Kernel:
    def __init__(self, tree: Path, extra: dict[str, str]) -> None:
        self.tree = tree
        self.scratch = Path(tempfile.mkdtemp(prefix="gclog-sidecar-"))
        self.env = environment(tree, self.scratch, extra)
        self.home = Path(self.env["GCLOG_HOME"])
        self.manager: KernelManager
        self.manager, self.client = start_new_kernel(
            kernel_name="python3", env=self.env, cwd=str(self.scratch)
        )
        for i in range(WARMUP):
            timed(self.client, f"x = {i}")
        self.cpu_per_cell: list[float] = []
        self.on: list[float] = []
        self.off: list[float] = []
        self.threads: dict[str, list[float]] = {}  # CPU per cell of the sidecar's threads

    def round(self, cells: int) -> None:
        timed(self.client, "%load_ext gclog")
        process, session_id = sidecar(self.home)
        time.sleep(1.0)  # its imports and session start: not the cells' cost
        store = self.home / "store.sqlite3"
        before_cells = recorded(store, session_id)
        before, threads = run_time(process), threads_cpu(process.pid)
        self.on += [timed(self.client, f"x = {i}") for i in range(cells)]
        wait_recorded(store, session_id, before_cells + cells)
        self.cpu_per_cell.append((run_time(process) - before) / cells)
        for name, used in threads_cpu(process.pid).items():
            used -= threads.get(name, 0.0)
            self.threads.setdefault(name, []).append(used / cells)
        timed(self.client, "%unload_ext gclog")
        self.off += [timed(self.client, f"x = {i}") for i in range(cells)]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel()
        shutil.rmtree(self.scratch, ignore_errors=True)


def compare(trees: list[Path], rounds: int, cells: int, extra: dict[str, str]) -> None:
    kernels = [Kernel(tree, extra) for tree in trees]
    try:
        for r in range(rounds):
            for kernel in kernels if r % 2 == 0 else reversed(kernels):
                kernel.round(cells)
        for kernel in kernels:
            per_round = " ".join(f"{v * 1000:.2f}" for v in kernel.cpu_per_cell)
            on, off = statistics.median(kernel.on) * 1000, statistics.median(kernel.off) * 1000
            print(
                f"{kernel.tree}: sidecar CPU ms/cell median "
                f"{statistics.median(kernel.cpu_per_cell) * 1000:.3f} (rounds: {per_round}); "
                f"client ms/cell on {on:.3f} off {off:.3f} added {on - off:+.3f}"
            )
            threads = ", ".join(
                f"{name} {statistics.median(v) * 1000:.3f}" for name, v in kernel.threads.items()
            )
            print(f"  threads (CPU ms/cell, medians): {threads}")
    finally:
        for kernel in kernels:
            kernel.close()


_PROFILED = """
import cProfile, runpy, sys, time
out = sys.argv.pop(1)
sys.argv[0] = "gclog.entry.sidecar_process"
profiler = cProfile.Profile(time.thread_time)
try:
    profiler.runcall(runpy.run_module, "gclog.entry.sidecar_process", run_name="__main__")
finally:
    profiler.dump_stats(out)
"""


def profile(tree: Path, cells: int, out: Path, extra: dict[str, str], top: int) -> None:
    kernel = Kernel(tree, extra)
    try:
        # The main thread's CPU time, not wall time: a niced sidecar on a busy machine waits
        # for a core (and for the GIL) inside whatever call it is in.
        argv = [sys.executable, "-c", _PROFILED, str(out)]
        argv += [str(kernel.manager.connection_file)]
        argv += ["--entry-point", "extension", "--kernel-pid", str(kernel.manager.provisioner.pid)]  # type: ignore[union-attr]
        proc = subprocess.Popen(argv, env=kernel.env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError(f"the sidecar said {line!r}")
        session_id = line.split()[1]
        time.sleep(1.0)
        process = psutil.Process(proc.pid)
        measured_under("cProfile", proc, signal.SIGTERM, kernel, process, session_id, cells)
    finally:
        kernel.close()
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def spy(tree: Path, cells: int, out: Path, extra: dict[str, str], py_spy: str) -> None:
    kernel = Kernel(tree, extra)
    try:
        timed(kernel.client, "%load_ext gclog")
        process, session_id = sidecar(kernel.home)
        time.sleep(1.0)
        if py_spy.endswith("perf"):  # native: where the CPU goes below Python (libzmq, sqlite)
            argv = [py_spy, "record", "-F", "2000", "-g", "-p", str(process.pid), "-o", str(out)]
        else:
            argv = [py_spy, "record", "--pid", str(process.pid), "--threads", "--rate", "500"]
            argv += ["--format", "raw", "--output", str(out), "--nonblocking"]
        sampler = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches
        measured_under("py-spy", sampler, signal.SIGINT, kernel, process, session_id, cells)
    finally:
        kernel.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["cpu", "profile", "spy"])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cells", type=int)
    parser.add_argument("--metrics", help="GCLOG_METRICS for the sidecar (e.g. none)")
    parser.add_argument("--out", type=Path, default=Path("sidecar.prof"))
    parser.add_argument("--py-spy", default="py-spy")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    extra = {"GCLOG_METRICS": args.metrics} if args.metrics else {}
    trees = [tree.resolve() for tree in args.trees]
    if args.mode == "cpu":
        compare(trees, args.rounds, args.cells or 300, extra)
    elif args.mode == "spy":
        spy(trees[0], args.cells or 1000, args.out, extra, args.py_spy)
    else:
        profile(trees[0], args.cells or 1000, args.out, extra, args.top)


if __name__ == "__main__":
    main()
