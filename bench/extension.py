"""What `%load_ext gclog` adds to each cell: per-cell latency, loaded versus not, in one run.

1,000 trivial cells sent by a jupyter_client client, timed from send to idle, in one kernel:
before anything observes it; with a bare iopub subscriber (a process that only receives and
drops the kernel's messages, at the sidecar's priority) — the floor any outside observer pays
on this machine; with `%load_ext gclog` loaded (its sidecar recording every cell); after
`%unload_ext gclog`, so the kernel's own drift shows.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

from bench.common import isolated_env, scratch, write_section

CELLS = 1000
BARE_SUBSCRIBER = """
import json, os, sys, zmq
os.nice(10)
info = json.load(open(sys.argv[1]))
sock = zmq.Context().socket(zmq.SUB)
sock.setsockopt(zmq.SUBSCRIBE, b"")
sock.connect(f"{info['transport']}://{info['ip']}:{info['iopub_port']}")
print("ready", flush=True)
while True:
    sock.recv_multipart()
"""


def timed_cells(client, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for i in range(count):
        start = time.perf_counter()
        client.execute_interactive(f"x = {i}", timeout=60, output_hook=lambda msg: None)
        times.append(time.perf_counter() - start)
    return times


def ms(values: list[float], q: str = "median") -> float:
    if q == "median":
        return statistics.median(values) * 1000
    return statistics.quantiles(values, n=10)[-1] * 1000


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
                bare = subprocess.Popen(
                    [sys.executable, "-c", BARE_SUBSCRIBER, manager.connection_file],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert bare.stdout is not None and bare.stdout.readline().strip() == "ready"
                time.sleep(0.5)
                subscribed = timed_cells(client, CELLS)
                bare.kill()
                bare.wait()
                quiet = lambda m: None  # noqa: E731
                client.execute_interactive("%load_ext gclog", timeout=60, output_hook=quiet)
                loaded = timed_cells(client, CELLS)
                client.execute_interactive("%unload_ext gclog", timeout=60, output_hook=quiet)
                after = timed_cells(client, CELLS)
            finally:
                client.stop_channels()
                manager.shutdown_kernel()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    alone = before + after
    rows = [
        ("nothing observing (before + after)", alone),
        ("a bare iopub subscriber (receives, drops)", subscribed),
        ("`%load_ext gclog` loaded", loaded),
    ]
    table = "\n".join(f"| {name} | {ms(v):.2f} ms | {ms(v, 'p90'):.2f} ms |" for name, v in rows)
    added = ms(loaded) - ms(alone)
    floor = ms(subscribed) - ms(alone)
    body = (
        f"{CELLS} trivial cells (`x = i`) per phase, timed by the client from send to idle, in one "
        "kernel. Target: under 0.2 ms added by the extension (median).\n\n"
        "| phase | median per cell | p90 per cell |\n|---|---|---|\n"
        f"{table}\n\n"
        f"Added by the extension: **{added:+.2f} ms** median; by a bare subscriber that records "
        f"nothing: {floor:+.2f} ms (before alone {ms(before):.2f} ms, after alone {ms(after):.2f} ms). "
        "The extension adds no hook to the cell path: what it costs is a second iopub subscriber for "
        "the kernel to serve and the sidecar's CPU (about 1 ms per cell, at low priority), on a "
        "machine of 2 cores that the kernel and the client already keep busy."
    )
    print(body)
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    (Path(__file__).parent / "results" / "extension.json").write_text(
        json.dumps({name: ms(v) for name, v in rows}, indent=1)
    )
    write_section(
        "extension",
        "%load_ext gclog: cost per cell",
        "make bench  (python -m bench extension)",
        body,
    )
