"""Helpers shared by the benchmarks: timing whole processes, and writing BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "BENCHMARKS.md"
BIN = Path(sys.executable).parent


def floor_command(nb: Path, out: Path) -> list[str]:
    """The floor: bench/bare_loop.py runs ``nb`` into ``out`` and records nothing."""
    return [sys.executable, str(REPO / "bench" / "bare_loop.py"), str(nb), str(out)]


def gclog_run_command(nb: Path, out: Path, *flags: str) -> list[str]:
    return [str(BIN / "gclog"), "run", str(nb), "-o", str(out), *flags]


def isolated_env(home: Path) -> dict[str, str]:
    """A gclog home and IPython dir of the benchmark's own, so runs start equal."""
    return {
        **os.environ,
        "GCLOG_HOME": str(home / "gclog"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "PYTHONWARNINGS": "ignore",
    }


def time_command(argv: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def interleaved(
    commands: dict[str, Sequence[str]], env: dict[str, str], cwd: Path, repeats: int
) -> dict[str, list[float]]:
    """Run each command once per round, in turn, so drift in the machine hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            times[name].append(time_command(argv, env, cwd))
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    memory = psutil.virtual_memory().total / 2**30
    one, _, fifteen = os.getloadavg()  # the benchmark's own work included
    return (
        f"{psutil.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, "
        f"load average at the end {one:.1f} (1 min), {fifteen:.1f} (15 min)"
    )


def write_section(name: str, title: str, command: str, body: str) -> None:
    """Replace (or add) one benchmark's section of BENCHMARKS.md."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name}:start -->\n## {title}\n\n"
        f"Command: `{command}` — {stamp}, {machine()}.\n\n{body.strip()}\n"
        f"<!-- bench:{name}:end -->"
    )
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"<!-- bench:{name}:start -->.*?<!-- bench:{name}:end -->", re.S)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{section}\n"
    )
    BENCHMARKS.write_text(text if text.endswith("\n") else text + "\n")


def scratch() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="gclog-bench-")
