"""``%load_ext gclog`` / ``%unload_ext gclog``: observe the kernel this runs in, from outside it.

Loading starts a ``gclog attach`` sidecar *process* for this kernel's own connection file
(gclog/entry/sidecar.py), so no sampling, storing or uploading ever runs inside the person's
kernel, and no hook is added to the cell path. This module runs in their kernel: it imports only
the standard library, IPython, and the kernel's own (already loaded) ipykernel; the settings, the
opt-out and the privacy notice are the sidecar's to read and say. Unloading asks the sidecar to stop
in band — a display message on iopub, which the sidecar reads after every earlier cell's messages —
so the cells up to ``%unload_ext`` are all recorded before it returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gclog.entry.sidecar import start_in_background

UNLOAD_WAIT_S = 15.0  # for the sidecar to record what is left and end

_state: dict[str, Any] = {"session": None, "pid": None, "process": None, "disclosed": False}


def _notebook_path(ipython: Any) -> str | None:
    """The notebook's file when the front end says: VS Code, or a Jupyter server's session."""
    path = ipython.user_ns.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME")
    if not path:
        return None
    beside = Path.cwd() / Path(path).name
    return str(beside) if not Path(path).is_file() and beside.is_file() else str(path)


def _observing() -> bool:
    """Is the sidecar alive? Ours is our child: an exited one is reaped here, not left a zombie."""
    pid, process = _state["pid"], _state["process"]
    if pid is None:
        return False
    if process is not None:
        return process.poll() is None
    try:
        os.kill(pid, 0)  # another extension's sidecar (this kernel loaded gclog before)
    except OSError:
        return False
    return True


def _connection_file() -> Path:
    from ipykernel.connect import get_connection_file  # loaded with the kernel: costs nothing

    return Path(get_connection_file())


def _this_cell(ipython: Any, started: datetime) -> str | None:
    """The ``%load_ext`` cell as the kernel began it, for the sidecar to record it whole: it
    subscribes while the cell runs, after its start. JSON, or None outside a Jupyter kernel."""
    try:
        parent = ipython.kernel.get_parent("shell")
    except Exception:  # a terminal IPython, or an ipykernel without get_parent
        return None
    header = (parent or {}).get("header") or {}
    if header.get("msg_type") != "execute_request":
        return None
    queued, content = header.get("date"), parent.get("content") or {}
    count = getattr(ipython, "execution_count", None)
    if isinstance(count, int) and content.get("store_history", True):
        count -= 1  # IPython counted this cell as it began it
    cell = {
        "msg_id": header.get("msg_id"),
        "code": content.get("code"),
        "cell_id": (parent.get("metadata") or {}).get("cellId"),
        "execution_count": count,
        "queued_at": queued.isoformat() if isinstance(queued, datetime) else queued,
        # The kernel's own start of the cell is a few milliseconds before this.
        "started_at": started.isoformat(),
    }
    return json.dumps(cell, default=str)


def load(ipython: Any) -> None:
    started = datetime.now(timezone.utc)
    if _observing():
        print(f"gclog: already observing this kernel (session {_state['session']})")
        return
    try:
        background = start_in_background(
            _connection_file(),
            "extension",
            notebook=_notebook_path(ipython),
            kernel_pid=os.getpid(),
            disclose=not _state["disclosed"],  # once per kernel, in the cell, as the seed did
            loading_cell=_this_cell(ipython, started),
        )
    except Exception as exc:  # never a traceback in the person's cell
        print(f"gclog: {exc}", file=sys.stderr)
        return
    for text in background.said:
        print(text)
        _state["disclosed"] = True
    if background.off is not None:
        print(background.off)
        return
    if background.adopted and background.entry_point != "extension":
        # `gclog run` or `gclog attach` records this kernel already: theirs to stop, not ours.
        print(
            f"gclog: this kernel is already observed by a `gclog {background.entry_point}` "
            f"session ({background.session_id}); nothing more to do"
        )
        return
    _state.update(session=background.session_id, pid=background.pid, process=background.process)
    already = " (it was already observed)" if background.adopted else ""
    print(f"gclog: observing this kernel, session {background.session_id}{already}")


def unload(ipython: Any) -> None:
    if not _observing():
        _state.update(session=None, pid=None, process=None)
        print("gclog: this kernel was not being observed")
        return
    from IPython.display import publish_display_data

    session = _state["session"]
    publish_display_data(
        {"text/plain": f"gclog: stopped observing this kernel (session {session})"},
        metadata={"gclog": {"stop": session}},
    )
    if not _ended(UNLOAD_WAIT_S):
        _signal(signal.SIGTERM)
        _ended(5.0)
    _state.update(session=None, pid=None, process=None)


def _ended(timeout: float) -> bool:
    process: subprocess.Popen[bytes] | None = _state["process"]
    if process is not None:
        try:
            process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _observing():
            return True
        time.sleep(0.05)
    return False


def _signal(signum: int) -> None:
    with contextlib.suppress(OSError, TypeError):
        os.kill(_state["pid"], signum)
