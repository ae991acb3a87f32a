"""Helpers for the tests: an isolated gclog world, notebooks, and checks on what gclog printed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import psutil
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Env:
    """An isolated world for one test: gclog home, IPython dir, Jupyter paths, a leak marker."""

    root: Path
    home: Path
    vars: dict[str, str]
    marker: str

    @property
    def store(self) -> Path:
        return self.home / "store.sqlite3"

    def gclog(
        self, *args: str, timeout: float = 90, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gclog", *args],
            env={**self.vars, **env},
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "gclog", *args],
            env=self.vars,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def records(self, session: str | None = None) -> list[dict[str, Any]]:
        if not self.store.exists():
            return []
        from gclog.store import Store

        with Store(self.store) as store:
            return list(store.records(session))

    def leftover_processes(self) -> list[psutil.Process]:
        """Processes (kernels above all) that carry this test's marker in their environment."""
        found = []
        for proc in psutil.process_iter():
            try:
                if (
                    proc.pid != os.getpid()
                    and proc.environ().get("GCLOG_TEST_MARKER") == self.marker
                ):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def wait_no_leftovers(self, timeout: float = 15) -> list[psutil.Process]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = [p for p in self.leftover_processes() if p.status() != psutil.STATUS_ZOMBIE]
            if not left:
                return []
            time.sleep(0.2)
        return self.leftover_processes()


def persisted(env: Env, extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Everything gclog kept, byte for byte: each file under GCLOG_HOME (the store, its WAL, the
    identity...) and the NDJSON export. ``extra`` adds what left the machine (shipped objects)."""
    found: dict[str, bytes] = {}
    if env.home.exists():
        for path in sorted(env.home.rglob("*")):
            if path.is_file():
                found[str(path.relative_to(env.home))] = path.read_bytes()
    if env.store.exists():
        export = env.gclog("export")
        assert export.returncode == 0, export.stderr
        found["gclog export"] = export.stdout.encode()
    found.update(extra or {})
    return found


def write_notebook(path: Path, *cells: str | dict[str, Any], kernel: str = "python3") -> Path:
    """Cells are code strings, or dicts with ``source`` and optional ``tags``/``markdown``."""
    nb = new_notebook(
        metadata={"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}}
    )
    for cell in cells:
        if isinstance(cell, str):
            nb.cells.append(new_code_cell(cell))
        elif cell.get("markdown"):
            nb.cells.append(new_markdown_cell(cell["source"]))
        else:
            nb.cells.append(new_code_cell(cell["source"], metadata={"tags": cell.get("tags", [])}))
    nbformat.write(nb, path)
    return path


def by_type(records: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event_type"] == event_type]


def one_line_error(stderr: str) -> str:
    """The stderr of a failed command: exactly one line, a gclog error, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("gclog: error: "), stderr
    return lines[0]
