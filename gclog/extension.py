"""``%load_ext gclog`` / ``%unload_ext gclog``: observe the kernel this runs in, from outside it.

Loading starts a ``gclog attach`` sidecar *process* for this kernel's own connection file, so no
sampling, storing or uploading ever runs inside the user's kernel, and no hook is added to the
cell path: the added cost per cell is nothing at all. Unloading asks the sidecar to stop in band —
a display message on iopub, which the sidecar reads after every earlier cell's messages — so the
cells up to ``%unload_ext`` are all recorded before it returns.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

_state: dict[str, Any] = {"session": None, "pid": None, "disclosed": False}


def _notebook_path(ipython: Any) -> str | None:
    """The notebook's file when the front end says: VS Code, or a Jupyter server's session."""
    path = ipython.user_ns.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME")
    if not path:
        return None
    beside = Path.cwd() / Path(path).name
    return str(beside) if not Path(path).is_file() and beside.is_file() else str(path)


def _observing() -> bool:
    """Is our sidecar alive? It is our child: an exited one is reaped here, not left a zombie."""
    import psutil

    pid = _state["pid"]
    if pid is None:
        return False
    try:
        if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            return True
        os.waitpid(pid, os.WNOHANG)
    except (psutil.Error, ChildProcessError):
        pass
    return False


def load(ipython: Any) -> None:
    from gclog.config import Paths, load_settings
    from gclog.errors import GclogError
    from gclog.privacy.disclosure import announce
    from gclog.privacy.optout import opt_out_line, opt_out_reason

    try:
        settings = load_settings()
    except (GclogError, OSError) as exc:
        print(f"gclog: {exc}", file=sys.stderr)
        return
    off = opt_out_reason(settings)
    if off:
        print(opt_out_line(off))
        return
    if _observing():
        print(f"gclog: already observing this kernel (session {_state['session']})")
        return
    if not _state["disclosed"]:  # once per kernel, in the cell, as the seed did
        announce(settings, Paths.from_env(), "extension", write=print, every_time=True)
        _state["disclosed"] = True
    from ipykernel.connect import get_connection_file

    from gclog.attach import start_in_background

    try:
        background = start_in_background(
            Path(get_connection_file()),
            "extension",
            notebook=_notebook_path(ipython),
            kernel_pid=os.getpid(),
        )
    except Exception as exc:  # never a traceback in the user's cell
        print(f"gclog: {exc}", file=sys.stderr)
        return
    if background.adopted and background.source != "extension":
        # `gclog run` or `gclog attach` records this kernel already: theirs to stop, not ours.
        print(
            f"gclog: this kernel is already observed by a `gclog {background.source}` session "
            f"({background.session_id}); nothing more to do"
        )
        return
    _state.update(session=background.session_id, pid=background.pid)
    already = " (it was already observed)" if background.adopted else ""
    print(f"gclog: observing this kernel, session {background.session_id}{already}")


def unload(ipython: Any) -> None:
    if not _observing():
        _state.update(session=None, pid=None)
        print("gclog: this kernel was not being observed")
        return
    import psutil
    from IPython.display import publish_display_data

    session, pid = _state["session"], _state["pid"]
    publish_display_data(
        {"text/plain": f"gclog: stopped observing this kernel (session {session})"},
        metadata={"gclog": {"stop": session}},
    )
    try:
        sidecar = psutil.Process(pid)
        try:
            sidecar.wait(timeout=15)
        except psutil.TimeoutExpired:
            sidecar.terminate()
            sidecar.wait(timeout=5)
    except psutil.Error:
        pass
    _state.update(session=None, pid=None)
