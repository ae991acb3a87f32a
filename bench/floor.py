"""`gclog run` against the floor (bench/bare_loop.py), in one run, interleaved: issue 13's targets.

Each round runs, in turn, the floor and `gclog run` (full recording: metrics, the privacy filter,
the store) on each notebook: 1 trivial cell (start-up), 200 and 2,000 trivial cells, and
20 × sleep(0.05). Whole-process wall time and the process's own peak RSS (VmHWM, read from
/proc while it runs: its kernel is not counted, as wait4's figure would count it). Also the time
of `gclog --help` and `gclog status`, interleaved with a bare `python -c pass` for scale.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from bench.common import (
    BIN,
    REPO,
    floor_command,
    gclog_run_command,
    isolated_env,
    median,
    scratch,
    write_section,
)

ROUNDS = 5
BIG_EVERY = 2  # the 2,000-cell notebook runs every other round: it takes ~10× as long
CLI_REPEATS = 9
TARGETS = {"1 cell": 1.15, "200 trivial cells": 1.10}


def make_notebooks(where: Path) -> dict[str, Path]:
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    made = {
        "1 cell": [new_code_cell("x = 0\nx + 1")],
        "200 trivial cells": [new_code_cell(f"x = {i}\nx + 1") for i in range(200)],
        "2,000 trivial cells": [new_code_cell(f"x = {i}\nx + 1") for i in range(2000)],
        "20 × sleep(0.05)": [new_code_cell("import time\ntime.sleep(0.05)") for _ in range(20)],
    }
    paths = {}
    for index, (label, cells) in enumerate(made.items()):
        nb = new_notebook(metadata={"kernelspec": kernelspec})
        nb.cells = cells
        paths[label] = where / f"nb{index}.ipynb"
        nbformat.write(nb, paths[label])
    return paths


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process; VmHWM only rises, so its last reading
    (every 20 ms until the process exits) is the peak, short of the last moments."""
    with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: a pipe fills and blocks
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, peak_rss_mb(proc.pid) or 0.0)
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{argv[1]} failed ({proc.returncode}): {stderr.read()[-2000:]}")
    return elapsed, peak


def run_commands(nb: Path, out: Path) -> dict[str, list[str]]:
    return {
        "floor": floor_command(nb, out / "f.ipynb"),
        "gclog run": gclog_run_command(nb, out / "g.ipynb"),
    }


def cli_times(env: dict[str, str], cwd: Path) -> dict[str, float]:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "gclog --help": [str(BIN / "gclog"), "--help"],
        "gclog status": [str(BIN / "gclog"), "status"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(CLI_REPEATS):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    return {name: median(values) for name, values in times.items()}


def main() -> None:
    with scratch() as tmp:
        where = Path(tmp)
        env = isolated_env(where)
        out = where / "out"
        out.mkdir()
        notebooks = make_notebooks(where)
        wall: dict[tuple[str, str], list[float]] = {}
        rss: dict[tuple[str, str], list[float]] = {}
        subprocess.run(  # the first run makes the store, the identity, the notice: not timed
            [str(BIN / "gclog"), "run", str(notebooks["1 cell"]), "-o", str(out / "w.ipynb")],
            env=env,
            cwd=where,
            capture_output=True,
            check=True,
        )
        for round_ in range(ROUNDS):
            print(f"floor: round {round_ + 1} of {ROUNDS} …", file=sys.stderr)
            for label, nb in notebooks.items():
                if label.startswith("2,000") and round_ % BIG_EVERY:
                    continue
                for tool, argv in run_commands(nb, out).items():
                    seconds, peak = timed(argv, env, where)
                    wall.setdefault((label, tool), []).append(seconds)
                    rss.setdefault((label, tool), []).append(peak)
        cli = cli_times(env, where)
    body = report(notebooks, wall, rss, cli)
    print(body)
    write_section(
        "floor", "gclog run against the floor", "make bench  (python -m bench floor)", body
    )
    results = {
        f"{label} / {tool}": {"wall_s": median(wall[label, tool]), "rss_mb": max(rss[label, tool])}
        for label, tool in wall
    }
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / "floor.json").write_text(
        json.dumps({"runs": results, "cli": cli}, indent=1)
    )


def report(
    notebooks: dict[str, Path],
    wall: dict[tuple[str, str], list[float]],
    rss: dict[tuple[str, str], list[float]],
    cli: dict[str, float],
) -> str:
    rows = []
    for label in notebooks:
        floor, gclog = median(wall[label, "floor"]), median(wall[label, "gclog run"])
        target = f"≤ {TARGETS[label]:.2f}×" if label in TARGETS else ""
        rows.append(
            f"| {label} | {len(wall[label, 'floor'])} | {floor:.2f} s | **{gclog:.2f} s** "
            f"| **{gclog / floor:.2f}×** | {target} | {max(rss[label, 'floor']):.1f} MB "
            f"| {max(rss[label, 'gclog run']):.1f} MB |"
        )

    def per_cell(tool: str, label: str, cells: int) -> float:
        return (median(wall[label, tool]) - median(wall["1 cell", tool])) / (cells - 1) * 1000

    small = {t: per_cell(t, "200 trivial cells", 200) for t in ("floor", "gclog run")}
    large = {t: per_cell(t, "2,000 trivial cells", 2000) for t in ("floor", "gclog run")}
    notebook_growth = max(rss["2,000 trivial cells", "floor"]) - max(rss["1 cell", "floor"])
    beyond = max(rss["2,000 trivial cells", "gclog run"]) - notebook_growth
    return "\n".join(
        [
            f"Whole-process wall time, median of interleaved rounds ({ROUNDS} rounds; the "
            f"2,000-cell notebook in every other round), and the process's own peak RSS "
            "(the most of any round; the kernel not counted). The machine is a 2-core virtual "
            "machine whose speed varies from run to run: only the ratios, taken within one run, "
            "mean much.",
            "",
            "**The floor** (bench/bare_loop.py) is the least a program can do to run a notebook "
            "through jupyter_client: read the notebook with nbformat, `start_new_kernel`, send "
            "each code cell (`execute`, `allow_stdin=False`), collect its iopub outputs "
            "(`output_from_msg`) until its `status: idle` and its shell reply are both in, set "
            "the cell's outputs and execution count, shut the kernel down (`shutdown_kernel`) and "
            "write the notebook once. It records nothing, shows nothing and checkpoints nothing. "
            "**`gclog run`** records everything at its defaults: session, every cell with its "
            "resources, metric windows, all through the privacy filter, into its SQLite store.",
            "",
            "| notebook | rounds | floor | gclog run | ratio | target | floor peak RSS "
            "| gclog peak RSS |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Per cell, from the same medians ((N cells − 1 cell) ÷ (N − 1)): floor "
            f"{small['floor']:.2f} ms at 200 cells, {large['floor']:.2f} ms at 2,000; gclog "
            f"{small['gclog run']:.2f} ms at 200, {large['gclog run']:.2f} ms at 2,000 "
            f"(**{large['gclog run'] / small['gclog run']:.2f}×** the 200-cell figure; target "
            "within 10%).",
            "",
            f"Memory: the floor's own peak grows by {notebook_growth:.1f} MB from 1 cell to "
            "2,000 — the notebook's own size in memory (its cells and outputs as nbformat "
            f"nodes). gclog's peak at 2,000 cells less that: **{beyond:.1f} MB** (target under "
            "70 MB).",
            "",
            "| command | median of " + str(CLI_REPEATS) + " | target |",
            "|---|---|---|",
            f"| `python -c pass` (for scale) | {cli['python -c pass'] * 1000:.0f} ms | |",
            f"| `gclog --help` | **{cli['gclog --help'] * 1000:.0f} ms** | < 300 ms |",
            f"| `gclog status` | **{cli['gclog status'] * 1000:.0f} ms** | < 300 ms |",
        ]
    )


if __name__ == "__main__":
    main()
