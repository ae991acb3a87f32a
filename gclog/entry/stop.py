"""``gclog stop``: end a live session the way Ctrl-C does (SIGTERM), and wait for it."""

from __future__ import annotations

import psutil
from rich.console import Console

from gclog.config import Paths
from gclog.errors import GclogError
from gclog.store.live import LiveSessions


def stop_session(paths: Paths, session_id: str, timeout: float, console: Console) -> int:
    """Ask a session's process to end (it records its end and flushes), and wait."""
    live = LiveSessions(paths)
    entry = live.find(session_id)
    if not entry.is_alive():
        live.remove(entry.session_id)
        raise GclogError(
            f"session {entry.session_id} is not running (its records are in the store)"
        )
    try:
        process = psutil.Process(entry.pid)
        process.terminate()
    except psutil.NoSuchProcess:
        live.remove(entry.session_id)
        raise GclogError(f"session {entry.session_id} ended already") from None
    except psutil.AccessDenied:
        raise GclogError(
            f"not allowed to stop session {entry.session_id} (pid {entry.pid})"
        ) from None
    try:
        process.wait(timeout=timeout)
    except psutil.TimeoutExpired:
        raise GclogError(
            f"session {entry.session_id} (pid {entry.pid}) did not end within {timeout:g}s"
        ) from None
    console.print(f"gclog: stopped session {entry.session_id} ({entry.source})", soft_wrap=True)
    return 0
