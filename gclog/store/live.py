"""Which sessions are live: one small JSON file per session under ``sessions/``, and no daemon.

The observing process writes its entry when it starts, rewrites it as it records, and removes it
when it ends. A reader judges an entry live by its process (pid and start time, so a reused pid is
not mistaken for it); entries of processes that died without cleaning up are reported dead, and
removed by the next session that starts (a reader never deletes). Exclusive ``flock`` locks, one per kernel, keep two observers off the same kernel: the
kernel frees a lock even when its holder is killed with ``kill -9``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import psutil

from gclog.config import Paths
from gclog.errors import GclogError
from gclog.text import by_prefix


@dataclass
class LiveSession:
    session_id: str
    source: str
    pid: int
    pid_started: float
    started_at: float
    kernel_name: str | None = None
    kernel_id: str | None = None
    kernel_pid: int | None = None
    connection_file: str | None = None
    notebook: str | None = None
    cells: int = 0
    errors: int = 0
    last_event: str | None = None
    last_event_at: float | None = None
    metric_sources: dict[str, Any] = field(default_factory=dict)
    state: str = "starting"
    # Fields this gclog does not know (an entry written by a newer one): kept, shown, rewritten.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveSession:
        """An entry as read from its file; TypeError if a field we need is missing."""
        known = {f.name for f in fields(cls)} - {"extra"}
        entry = cls(**{k: v for k, v in data.items() if k in known})
        entry.extra = {k: v for k, v in data.items() if k not in known}
        return entry

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {**data.pop("extra"), **data}

    @classmethod
    def for_this_process(cls, session_id: str, source: str, **facts: Any) -> LiveSession:
        me = psutil.Process()
        return cls(
            session_id=session_id,
            source=source,
            pid=me.pid,
            pid_started=me.create_time(),
            started_at=time.time(),
            **facts,
        )

    def is_alive(self) -> bool:
        try:
            return abs(psutil.Process(self.pid).create_time() - self.pid_started) < 1.0
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
            return False


class AlreadyObserved(GclogError):
    def __init__(self, connection_file: str, holder: LiveSession | None) -> None:
        who = f"session {holder.session_id} (pid {holder.pid})" if holder else "another gclog"
        super().__init__(f"kernel {connection_file} is already observed by {who}")
        self.holder = holder


class LiveSessions:
    def __init__(self, paths: Paths) -> None:
        self.dir = paths.sessions
        self._locks: dict[str, int] = {}

    def _path(self, session_id: str) -> Path:
        return self.dir / f"{session_id}.json"

    def write(self, entry: LiveSession) -> None:
        """Atomically (re)write an entry; a registry that cannot be written only loses the view."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            path = self._path(entry.session_id)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entry.as_dict()))
            os.replace(tmp, path)
        except OSError:
            pass

    def remove(self, session_id: str) -> None:
        self._path(session_id).unlink(missing_ok=True)

    def entries(self) -> list[LiveSession]:
        found = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
                found.append(LiveSession.from_dict(json.loads(path.read_text())))
        return found

    def find(self, session_id: str) -> LiveSession:
        """A live or dead entry by id or unique prefix."""
        entries = {e.session_id: e for e in self.entries()}
        return entries[
            by_prefix(session_id, entries, "session", where=" (gclog status lists them)")
        ]

    def observer_of(self, connection_file: str) -> LiveSession | None:
        wanted = os.path.realpath(connection_file)
        for entry in self.entries():
            same = entry.connection_file and os.path.realpath(entry.connection_file) == wanted
            if same and entry.is_alive():
                return entry
        return None

    # -- one observer per kernel --------------------------------------------------------------------

    def lock_kernel(self, connection_file: str) -> None:
        """Hold the kernel's lock for the life of this process; AlreadyObserved if another has it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        # One kernel, one lock, however its path was spelled (a symlinked home or runtime dir).
        digest = hashlib.sha256(os.path.realpath(connection_file).encode()).hexdigest()[:24]
        fd = os.open(self.dir / f"kernel-{digest}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyObserved(connection_file, self._wait_for_holder(connection_file)) from None
        self._locks[connection_file] = fd

    def _wait_for_holder(self, connection_file: str) -> LiveSession | None:
        # The holder writes its entry just after taking the lock: give it a moment to appear.
        for _ in range(20):
            holder = self.observer_of(connection_file)
            if holder is not None:
                return holder
            time.sleep(0.05)
        return None

    def unlock_kernel(self, connection_file: str) -> None:
        fd = self._locks.pop(connection_file, None)
        if fd is not None:
            os.close(fd)

    def live_and_dead(self) -> tuple[list[LiveSession], list[LiveSession]]:
        """Entries split by liveness. Reading changes nothing (``gclog status`` only reads)."""
        live, dead = [], []
        for entry in self.entries():
            (live if entry.is_alive() else dead).append(entry)
        return live, dead

    def prune(self) -> list[LiveSession]:
        """Remove the entries of sessions whose process is gone (a session starting does this,
        not a reader); the removed ones."""
        _, dead = self.live_and_dead()
        for entry in dead:
            with contextlib.suppress(OSError):
                self.remove(entry.session_id)
        return dead
