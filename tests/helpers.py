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

    def popen(
        self, *args: str, env: dict[str, str] | None = None, **kwargs: Any
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "gclog", *args],
            env={**self.vars, **(env or {})},
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def records(self, session: str | None = None) -> list[dict[str, Any]]:
        if not self.store.exists():
            return []
        from gclog.store.store import Store

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


def start_ready(manager: Any, timeout: float = 60, **start: Any) -> Any:
    """Start ``manager``'s kernel: a client on its channels, ready for it.

    In parallel runs another process may bind a port that jupyter_client picked for this kernel
    before the kernel binds it: the kernel then dies at once ("Address already in use"), and it
    is started again on new ports (three tries in all)."""
    for attempt in range(3):
        manager.start_kernel(**start)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=timeout)
            return client
        except RuntimeError:
            client.stop_channels()
            alive = manager.is_alive()  # not the port race: a kernel that does not answer
            manager.shutdown_kernel(now=True)
            if alive or attempt == 2:
                raise
            manager.cleanup_random_ports()
    raise AssertionError("unreachable")


class DrivenKernel:
    """A kernel driven by an independent jupyter_client client, as a front end would drive it."""

    def __init__(self, env: Env, kernel_id: str | None = None) -> None:
        import uuid

        from jupyter_client import KernelManager

        self.kernel_id = kernel_id or str(uuid.uuid4())
        runtime = Path(env.vars["JUPYTER_RUNTIME_DIR"])
        runtime.mkdir(parents=True, exist_ok=True)
        self.connection_file = runtime / f"kernel-{self.kernel_id}.json"
        self.manager = KernelManager(
            kernel_name="python3", connection_file=str(self.connection_file)
        )
        self.client = start_ready(self.manager, env=dict(env.vars), cwd=str(env.root))

    @property
    def pid(self) -> int:
        return int(self.manager.provisioner.pid)  # type: ignore[union-attr]

    def execute(self, code: str, timeout: float = 60, **kwargs: Any) -> dict[str, Any]:
        """Run a cell; the execute_reply, with the client's own wall time added as "_wall_s"."""
        start = time.monotonic()
        reply = self.client.execute_interactive(
            code, timeout=timeout, output_hook=lambda msg: None, **kwargs
        )
        reply["_wall_s"] = time.monotonic() - start
        return reply

    def shutdown(self) -> None:
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)


def wait_for_session(env: Env, state: str = "observing", timeout: float = 60) -> dict[str, Any]:
    """The registry entry of the first session in ``state`` (a gclog process observing)."""
    import json

    deadline = time.monotonic() + timeout
    sessions = env.home / "sessions"
    while time.monotonic() < deadline:
        for path in sessions.glob("*.json") if sessions.is_dir() else []:
            try:
                entry = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if entry.get("state") == state:
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no session reached {state!r} within {timeout}s")


def cells_of(env: Env, session_id: str) -> list[dict[str, Any]]:
    return [r for r in env.records(session_id) if r["event_type"] == "cell"]


def wait_for_cells(env: Env, session_id: str, count: int, timeout: float = 30) -> None:
    """Until the session has ``count`` cell records in the store (each is committed as made)."""
    deadline = time.monotonic() + timeout
    while len(cells_of(env, session_id)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} cells recorded within {timeout}s")
        time.sleep(0.05)


def mount_tmpfs(where: Path, options: str) -> str | None:
    """Mount a real tmpfs at ``where`` (we run as root in CI); why not, or None once mounted."""
    where.mkdir(exist_ok=True)
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    return None if made.returncode == 0 else (made.stderr.strip() or f"exit {made.returncode}")


def unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], check=False)
