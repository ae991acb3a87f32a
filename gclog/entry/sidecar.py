"""``gclog attach`` as a background process (a sidecar), and the pipe it talks to its parent on.

``%load_ext gclog`` and ``gclog attach --detach`` start ``python -m gclog.entry.sidecar_process …``
(a ``gclog attach`` that answers before its heavy imports, gclog/entry/prelude.py) and read its stdout
until it says how it went, one line each::

    say <JSON text>                      something for the parent to show (the privacy notice)
    off <JSON text>                      recording is off (GCLOG_DISABLED…): the line to show
    ready <session id>                   observing; the sidecar's own output goes to a log file
    observed <session id> <pid> <entry>  another gclog observes the kernel already

Both sides live here, with nothing but the standard library: the parent side runs inside the
person's kernel (the extension), where every import costs their cell.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gclog.errors import GclogError

STDERR_KEPT = 20  # lines of the sidecar's stderr kept to explain a failure to start


@dataclass
class Background:
    session_id: str | None
    pid: int | None
    adopted: bool = False  # another gclog already observed the kernel: this is its session
    entry_point: str = "attach"  # which kind of gclog session that is (run, attach, extension)
    said: list[str] = field(default_factory=list)  # what the sidecar asked to show, in order
    off: str | None = None  # recording is off: the line saying so (nothing was started)
    process: subprocess.Popen[bytes] | None = None  # ours, when it is the one observing


def start_in_background(
    connection_file: Path,
    entry_point: str,
    *,
    notebook: str | None = None,
    server: str | None = None,
    kernel_pid: int | None = None,
    disclose: bool = False,
    loading_cell: str | None = None,
    settings_env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Background:
    """Start ``gclog attach`` as its own process; return once it says how it went.

    GclogError (with the sidecar's own reason) if it fails or says nothing within ``timeout``.
    """
    argv = [sys.executable, "-m", "gclog.entry.sidecar_process", str(connection_file)]
    argv += ["--entry-point", entry_point]
    if notebook:
        argv += ["--notebook", notebook]
    if server:
        argv += ["--server", server]
    if kernel_pid:
        argv += ["--kernel-pid", str(kernel_pid)]
    if disclose:
        argv.append("--disclose")
    if loading_cell:
        argv += ["--loading-cell", loading_cell]
    # Its stderr goes to a file, not a pipe: a pipe nobody reads blocks a chatty child. The
    # file is read only when the sidecar fails, for its reason.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=True,
            env={**os.environ, **(settings_env or {})},
        )
        return _wait_for_word(proc, errors, timeout)


def _wait_for_word(proc: subprocess.Popen[bytes], errors: IO[bytes], timeout: float) -> Background:
    """Read the sidecar's stdout until its final word (see the module's docstring)."""
    assert proc.stdout is not None
    result = Background(session_id=None, pid=None)
    held = bytearray()
    deadline = time.monotonic() + timeout
    final: list[str] | None = None
    fd = proc.stdout.fileno()
    while final is None and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], min(left, 0.1))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:  # the sidecar closed it: it exited
            break
        held += chunk
        *lines, rest = held.split(b"\n")
        held = bytearray(rest)
        for raw in lines:
            final = _take(raw.decode("utf-8", "replace").strip(), result)
            if final is not None:
                break
    proc.stdout.close()
    if final is not None and final[0] == "ready" and len(final) == 2:
        result.session_id, result.pid, result.process = final[1], proc.pid, proc
        return result
    if final is not None and final[0] in ("observed", "off"):
        _reap(proc)
        if final[0] == "observed" and len(final) == 4:
            result.session_id, result.pid = final[1], int(final[2])
            result.adopted, result.entry_point = True, final[3]
        return result
    _reap(proc, grace=0 if final is None and proc.poll() is None else 10.0)  # it said nothing
    errors.seek(0)
    said = errors.read().decode("utf-8", "replace").splitlines()[-STDERR_KEPT:]
    last = next((line.strip() for line in reversed(said) if line.strip()), "")
    reason = last.removeprefix("gclog: error: ") if last else "it did not start in time"
    raise GclogError(f"could not start observing the kernel: {reason}")


def _take(line: str, result: Background) -> list[str] | None:
    """One line from the sidecar: kept if it is something to show; the final word, when it is."""
    kind, _, rest = line.partition(" ")
    if kind == "say":
        result.said.append(str(json.loads(rest)))
        return None
    if kind == "off":
        result.off = str(json.loads(rest))
        return [kind]
    if kind in ("ready", "observed"):
        return line.split()
    return None  # not ours (a library printing on import): ignored


def _reap(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """A sidecar that is done (or hopeless) ends within ``grace`` seconds, asked to (SIGTERM)
    and then made to (SIGKILL), and is not left a zombie."""
    try:
        proc.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        proc.terminate()
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- the sidecar's side ---------------------------------------------------------------------------


class ReadyPipe:
    """What the sidecar tells its parent, on its stdout (see the module's docstring)."""

    def say(self, text: str) -> None:
        self._write(f"say {json.dumps(text)}")

    def off(self, line: str) -> None:
        self._write(f"off {json.dumps(line)}")

    def observed(self, session_id: str, pid: int, entry_point: str) -> None:
        self._write(f"observed {session_id} {pid} {entry_point}")

    def ready(self, session_id: str, log: Path) -> None:
        """Say we are observing, then send our own output to ``log``, not the parent's pipe."""
        self._write(f"ready {session_id}")
        log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, sys.stdout.fileno())
        os.dup2(fd, sys.stderr.fileno())
        os.close(fd)

    @staticmethod
    def _write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
