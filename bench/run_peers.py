"""`gclog run` side by side with papermill, `jupyter nbconvert --execute` and a bare loop.

Whole-process wall time, median of interleaved runs, on a 200-cell trivial notebook and a
20 × sleep(0.05) notebook. Also: how soon `gclog run` notices a kernel that died.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from bench.common import (
    BIN,
    REPO,
    floor_command,
    gclog_run_command,
    interleaved,
    isolated_env,
    median,
    scratch,
    write_section,
)

REPEATS = 5


def make_notebooks(where: Path) -> dict[str, Path]:
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    trivial = new_notebook(metadata={"kernelspec": kernelspec})
    trivial.cells = [new_code_cell(f"x = {i}\nx + 1") for i in range(200)]
    sleepy = new_notebook(metadata={"kernelspec": kernelspec})
    sleepy.cells = [new_code_cell("import time\ntime.sleep(0.05)") for _ in range(20)]
    paths = {
        "200 trivial cells": where / "trivial.ipynb",
        "20 × sleep(0.05)": where / "sleep.ipynb",
    }
    nbformat.write(trivial, paths["200 trivial cells"])
    nbformat.write(sleepy, paths["20 × sleep(0.05)"])
    return paths


def commands(nb: Path, out: Path) -> dict[str, list[str]]:
    return {
        "bare jupyter_client loop": floor_command(nb, out / "bare.ipynb"),
        "gclog run": gclog_run_command(nb, out / "gclog.ipynb"),
        "gclog run --no-metrics": gclog_run_command(nb, out / "gclog.ipynb", "--no-metrics"),
        "jupyter nbconvert --execute": [
            str(BIN / "jupyter"),
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            str(nb),
            "--output",
            str(out / "nbconvert.ipynb"),
        ],
        "papermill": [
            str(BIN / "papermill"),
            str(nb),
            str(out / "papermill.ipynb"),
            "-k",
            "python3",
        ],
    }


def death_detection(where: Path, env: dict[str, str]) -> list[float]:
    """Seconds from os._exit in a cell to the `kernel died` record's time, over a few runs."""
    from gclog.store.store import Store

    stamp = where / "died_at"
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [
        new_code_cell(
            f"import os, time\nopen({str(stamp)!r}, 'w').write(repr(time.time()))\nos._exit(1)"
        )
    ]
    path = where / "dies.ipynb"
    nbformat.write(nb, path)
    latencies = []
    for _ in range(5):
        subprocess.run(
            [str(BIN / "gclog"), "run", str(path)], env=env, capture_output=True, check=False
        )
        died_at = float(stamp.read_text())
        with Store(Path(env["GCLOG_HOME"]) / "store.sqlite3") as store:
            session = store.last_session_id()
            record = next(r for r in store.records(session) if r["event_type"] == "kernel")
        seen = datetime.fromisoformat(record["event_time"].replace("Z", "+00:00")).timestamp()
        latencies.append(seen - died_at)
    return latencies


def main() -> None:
    with scratch() as tmp:
        where = Path(tmp)
        env = isolated_env(where)
        out = where / "out"
        out.mkdir()
        rows = []
        results: dict[str, dict[str, float]] = {}
        for label, nb in make_notebooks(where).items():
            print(f"run: {label} × {REPEATS} rounds …", file=sys.stderr)
            times = interleaved(commands(nb, out), env, where, REPEATS)
            medians = {name: median(values) for name, values in times.items()}
            results[label] = medians
            bare, gclog, papermill = (
                medians[k] for k in ("bare jupyter_client loop", "gclog run", "papermill")
            )
            rows.append(
                f"| {label} | {bare:.2f} s | **{gclog:.2f} s** | {medians['gclog run --no-metrics']:.2f} s "
                f"| {medians['jupyter nbconvert --execute']:.2f} s "
                f"| {papermill:.2f} s | {gclog / bare:.2f}× | {gclog / papermill:.2f}× |"
            )
        latencies = death_detection(where, env)
    table = "\n".join(
        [
            "| notebook | bare jupyter_client loop | gclog run | gclog run --no-metrics "
            "| jupyter nbconvert --execute | papermill | gclog ÷ bare | gclog ÷ papermill |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    body = (
        f"Whole-process wall time, median of {REPEATS} interleaved rounds (each round runs every tool once). "
        "gclog records everything (session, every cell with its resources, metric windows, all through "
        "the privacy filter) into its store; the bare loop records nothing and, like gclog, keeps "
        "jsonschema's slow optional import out (see gclog/entry/cli.py); papermill and nbconvert run as "
        "installed. Targets on 200 cells: ≤ 1.15× the bare loop, ≤ 0.35× papermill.\n\n"
        f"{table}\n\n"
        f"Kernel death (`os._exit` in a cell) to gclog's `kernel died` record: median "
        f"{median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms over {len(latencies)} runs."
    )
    print(body)
    write_section("run", "gclog run against its peers", "make bench  (python -m bench run)", body)
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / "run.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
