"""What the metric samplers cost, side by side with metrics off, in one run.

1. The pool alone, in this process, at default settings: CPU seconds per minute with an idle
   kernel (every source every 2 s) and during a cell (the process tree every 0.5 s).
2. The whole `gclog run` process during a 30 s cell, metrics on (defaults) and off
   (`--no-metrics`): its own CPU seconds per minute (the kernel's excluded) and its peak RSS.
3. Per-cell overhead: 200 trivial cells, metrics on and off, median of interleaved rounds, as
   gclog's own CPU time (which the machine's load hardly changes) and as wall time.

`gclog run` is started through a launcher that is the `gclog` script plus, at exit, a report of
``getrusage(RUSAGE_SELF)``: gclog's own CPU over all its threads and its peak RSS, exactly, with
the kernel (a child process) left out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
from nbformat.v4 import new_code_cell, new_notebook

from bench.common import isolated_env, median, scratch, write_section
from gclog.samplers.base import Context
from gclog.samplers.pool import PoolSettings, SamplerPool

STEADY_S = 30.0  # seconds measured in each steady-state scenario
ROUNDS = 7  # interleaved rounds of the 200-cell runs
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
LAUNCHER = """
import atexit, json, resource, sys
report = sys.argv.pop(1)
def done():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(report, "w") as out:
        json.dump({"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss": usage.ru_maxrss * 1024}, out)
atexit.register(done)
sys.argv[0] = "gclog"
sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # as the gclog script: no cwd on the path
from gclog.entry.cli import main
main()
"""


def gclog_run(where: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, str(where / "usage.json"), "run", *args]


def usage(where: Path) -> dict[str, float]:
    return json.loads((where / "usage.json").read_text())


def pool_cpu_per_minute(busy: bool) -> float:
    """CPU seconds per minute this process spends running the pool (its threads only work)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        pool = SamplerPool(PoolSettings(), Context(kernel_pid=sleeper.pid))
        pool.start()
        pool.publish(lambda fields: None)
        if busy:
            pool.cell_started("bench")
        before = time.process_time()
        time.sleep(STEADY_S)
        used = time.process_time() - before
        if busy:
            pool.cell_finished("bench")
        pool.stop()
    finally:
        sleeper.kill()
        sleeper.wait()
    return used * 60 / STEADY_S


def cell_edges_ms(where: Path) -> float:
    """Milliseconds a cell waits on gclog's thread for metrics: the process-tree readings at its
    edges and its attribution, back-to-back cells on a real ipykernel (median of 500)."""
    from gclog.jupyter import kernel as kernels

    kernel = kernels.start("python3", where, 60, kernels.new_connection_file())
    try:
        pool = SamplerPool(PoolSettings(), Context(kernel_pid=kernel.pid))
        pool.start()
        pool.publish(lambda fields: None)
        took = []
        for n in range(500):
            start = time.perf_counter()
            pool.cell_started(str(n))
            pool.cell_finished(str(n))
            took.append(time.perf_counter() - start)
        pool.stop()
    finally:
        kernel.shutdown()
    return median(took) * 1000


def run_during_a_cell(where: Path, env: dict[str, str], metrics: bool) -> tuple[float, float]:
    """(gclog's own CPU seconds per minute during a long cell, its peak RSS in bytes)."""
    started = where / "cell-started"
    started.unlink(missing_ok=True)
    nb = new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [
        new_code_cell(
            f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep({STEADY_S + 6})"
        )
    ]
    path = where / "long.ipynb"
    nbformat.write(nb, path)
    argv = gclog_run(where, str(path), "-o", str(where / "long.out.ipynb"))
    proc = subprocess.Popen(
        argv + ([] if metrics else ["--no-metrics"]),
        env=env,
        cwd=where,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gclog = psutil.Process(proc.pid)
    while not started.exists():
        if proc.poll() is not None:
            raise RuntimeError("gclog run ended before its cell started")
        time.sleep(0.05)
    time.sleep(2.0)  # past the cell's start
    before = gclog.cpu_times()
    time.sleep(STEADY_S)
    after = gclog.cpu_times()
    if proc.wait(timeout=120) != 0:
        raise RuntimeError(f"gclog run failed ({proc.returncode})")
    used = (after.user - before.user) + (after.system - before.system)  # gclog's own, no kernel
    return used * 60 / STEADY_S, usage(where)["max_rss"]


def per_cell(where: Path, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Median wall and own-CPU seconds of 200 trivial cells, metrics on and off, interleaved."""
    nb = new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [new_code_cell(f"x = {i}\nx + 1") for i in range(200)]
    path = where / "trivial.ipynb"
    nbformat.write(nb, path)
    base = gclog_run(where, str(path), "-o", str(where / "trivial.out.ipynb"))
    variants = {"on": base, "off": [*base, "--no-metrics"]}
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, argv in variants.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, cwd=where, capture_output=True, check=True)
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(usage(where)["cpu_s"])
    return {name: {"wall": median(walls[name]), "cpu": median(cpus[name])} for name in variants}


def main() -> None:
    print(f"sampler_cost: the pool alone, {STEADY_S:.0f} s idle and busy …", file=sys.stderr)
    idle = pool_cpu_per_minute(busy=False)
    busy = pool_cpu_per_minute(busy=True)
    with scratch() as tmp:
        where = Path(tmp)
        env = isolated_env(where)
        print("sampler_cost: gclog run during a long cell, on and off …", file=sys.stderr)
        on_cpu, on_rss = run_during_a_cell(where, env, metrics=True)
        off_cpu, off_rss = run_during_a_cell(where, env, metrics=False)
        print(f"sampler_cost: 200 trivial cells × {ROUNDS} rounds …", file=sys.stderr)
        cells = per_cell(where, env)
        edges = cell_edges_ms(where)
    on, off = cells["on"], cells["off"]

    def core(seconds_per_minute: float) -> str:
        return f"{seconds_per_minute:.3f} s ({seconds_per_minute / 60 * 100:.2f}% of a core)"

    def size(n: float) -> str:
        return f"{n / 1e6:.1f} MB ({n / 2**20:.1f} MiB)"

    body = f"""\
CPU is what gclog's own process used (the kernel's CPU is not counted). Targets: the samplers
under 1% of one core; the whole `gclog run` process under 80 MB. The machine is shared with
other work (2 cores): wall times move by a second or more from run to run, CPU times far less.

| | metrics on (defaults: every 2 s, 0.5 s during a cell, 10 s windows) | metrics off |
|---|---|---|
| the sampler pool alone, idle kernel: CPU per minute | {core(idle)} | — |
| the sampler pool alone, during a cell: CPU per minute | {core(busy)} | — |
| whole `gclog run`, {STEADY_S:.0f} s inside one cell: CPU per minute | {core(on_cpu)} | {core(off_cpu)} |
| peak RSS of the whole `gclog run` process | {size(on_rss)} | {size(off_rss)} |
| 200 trivial cells: gclog's own CPU, median of {ROUNDS} interleaved rounds | {on["cpu"]:.2f} s | {off["cpu"]:.2f} s |
| 200 trivial cells: wall time, median of the same rounds | {on["wall"]:.2f} s | {off["wall"]:.2f} s |
| per-cell overhead of metrics (difference ÷ 200): CPU / wall | {(on["cpu"] - off["cpu"]) / 200 * 1000:+.2f} ms / {(on["wall"] - off["wall"]) / 200 * 1000:+.2f} ms | — |
| time a cell waits on gclog's thread for its resources, back-to-back cells on a real kernel, median of 500 | {edges:.2f} ms | 0 |

The last row is the precise per-cell cost: back to back, a cell needs one reading of the
kernel's process tree (its end; the previous cell's end, a few milliseconds old, is its start);
a cell after a pause needs two. The whole-process rows above it are noisy on this shared
machine: a 200-cell run's own CPU moves by about ±0.5 s (±2.5 ms a cell) from run to run, more
than the cost the last row measures.
"""
    print(body)
    write_section(
        "sampler_cost",
        "What the metric samplers cost",
        "make bench  (python -m bench sampler_cost)",
        body,
    )


if __name__ == "__main__":
    main()
