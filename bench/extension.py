"""What `%load_ext gclog` adds to each cell: per-cell latency, loaded versus not, in one run.

1,000 trivial cells sent by a jupyter_client client, timed from send to idle, first in a kernel
without gclog, then in the same kernel after `%load_ext gclog` (its sidecar observing), then
after `%unload_ext gclog`, so the kernel's own drift shows.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

from bench.common import isolated_env, scratch, write_section

CELLS = 1000


def timed_cells(client, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for i in range(count):
        start = time.perf_counter()
        client.execute_interactive(f"x = {i}", timeout=60, output_hook=lambda msg: None)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    with scratch() as tmp:
        env = isolated_env(Path(tmp))
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            manager, client = start_new_kernel(kernel_name="python3")
            try:
                timed_cells(client, 100)  # warm up
                before = timed_cells(client, CELLS)
                client.execute_interactive(
                    "%load_ext gclog", timeout=60, output_hook=lambda m: None
                )
                loaded = timed_cells(client, CELLS)
                client.execute_interactive(
                    "%unload_ext gclog", timeout=60, output_hook=lambda m: None
                )
                after = timed_cells(client, CELLS)
            finally:
                client.stop_channels()
                manager.shutdown_kernel()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    not_loaded = before + after
    median_off = statistics.median(not_loaded) * 1000
    median_on = statistics.median(loaded) * 1000
    p90_off = statistics.quantiles(not_loaded, n=10)[-1] * 1000
    p90_on = statistics.quantiles(loaded, n=10)[-1] * 1000
    body = (
        f"{CELLS} trivial cells (`x = i`) per phase, timed by the client from send to idle, in one "
        "kernel: before `%load_ext gclog`, while loaded (its sidecar process observing and "
        "recording every cell), after `%unload_ext gclog`. Target: under 0.2 ms added (median).\n\n"
        "| phase | median per cell | p90 per cell |\n|---|---|---|\n"
        f"| not loaded (before + after) | {median_off:.2f} ms | {p90_off:.2f} ms |\n"
        f"| loaded | {median_on:.2f} ms | {p90_on:.2f} ms |\n\n"
        f"Added by the extension: **{median_on - median_off:+.2f} ms** median "
        f"(before alone {statistics.median(before) * 1000:.2f} ms, after alone "
        f"{statistics.median(after) * 1000:.2f} ms). The extension adds no hook to the cell path; "
        "what shows is the sidecar's CPU on a machine with few cores."
    )
    print(body)
    write_section(
        "extension",
        "%load_ext gclog: cost per cell",
        "make bench  (python -m bench extension)",
        body,
    )
