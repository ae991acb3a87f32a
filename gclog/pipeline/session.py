"""A recording session: stamps each record with the envelope and hands it to a background writer.

Every entry point (run, attach, extension) records through one Session. ``emit`` is thread-safe
(cell records come from the observer, metric windows from sampler threads) and never waits on the
store: it scrubs the record in the caller's thread, gives it the next ``seq`` and puts it in a
bounded in-memory buffer. One writer thread takes records from the buffer, oldest first, and
commits them in batches (one SQLite transaction per batch). A store that cannot take them right
now (disk full, another process holding the write lock) only makes the writer wait and retry:
the records stay in the buffer.

When the buffer is full (``capacity`` records: the store has refused them for a long while), a new
record is *lost*, never silently: it still takes a ``seq`` (the gap shows downstream), it is
counted by event type in :attr:`Session.lost`, the next ``session_end`` reports it in
``records_dropped``, and the entry point says how many and exits non-zero. ``session_start`` and
``session_end`` are always buffered (two records cannot exhaust memory).

:meth:`Session.close` waits at most its timeout for the buffer to empty, then stops the writer
and hands back what is still unstored, for the caller to keep elsewhere.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gclog import __version__
from gclog.identity import Identity
from gclog.records import SCHEMA, EndReason, EntryPoint, now_iso
from gclog.store.store import Store
from gclog.warn import warn

log = logging.getLogger(__name__)

RecordFilter = Callable[[dict[str, Any]], dict[str, Any]]

CAPACITY = 20_000  # records the buffer holds while the store refuses them (~50 MB at worst)
BATCH = 500  # records per commit: one transaction costs a few ms however many it holds
RETRY_FIRST_S = 0.05  # the writer's wait after a refused commit, doubling up to RETRY_MAX_S
RETRY_MAX_S = 1.0
ALWAYS_KEPT = ("session_start", "session_end")


class Session:
    def __init__(
        self,
        entry_point: EntryPoint,
        store: Store,
        identity: Identity,
        *,
        record_filter: RecordFilter,  # the privacy filter: no record reaches the store without it
        notebook_id: str | None = None,  # the notebook key (gclog/enrich/identities.py)
        capacity: int = CAPACITY,
        session_id: str | None = None,  # chosen earlier (a sidecar says it before it records)
    ) -> None:
        self.id = session_id or str(uuid.uuid4())
        self.entry_point = entry_point
        self.store = store
        self.identity = identity
        self.notebook_id = notebook_id  # the notebook key (gclog/enrich/identities.py)
        self.record_filter = record_filter
        self.capacity = capacity
        self.started = time.monotonic()
        self.cells: Counter[str] = Counter()
        self.first_error_after: float | None = None
        self.lost: Counter[str] = Counter()  # records the full buffer could not take, by type
        self.store_error: str | None = None  # why the store refused the last commit, if it did
        self._buffer: collections.deque[dict[str, Any]] = collections.deque()
        self._seq = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._gathering = 0  # inside gathered(): the writer is told once, at its end
        self._warned = False
        self._writer = threading.Thread(target=self._write_loop, name="gclog-writer", daemon=True)
        self._writer.start()

    # -- the cell path: stamp, scrub, buffer ---------------------------------------------------

    def emit(self, event_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "schema": SCHEMA,
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "event_time": now_iso(),
            "session_id": self.id,
            "seq": 0,  # given below, in buffer order (= commit order)
            "source": self.entry_point,
            "user_id": self.identity.install_id,
            "notebook_id": self.notebook_id,
            "gclog_version": __version__,
            **fields,
        }
        record = self.record_filter(record)  # in the caller's thread, under no lock
        with self._cond:
            self._seq += 1
            record["seq"] = self._seq
            if len(self._buffer) >= self.capacity and event_type not in ALWAYS_KEPT:
                self.lost[event_type] += 1
                self._warn(f"the store has refused records for a while and "
                           f"{self.capacity} wait in memory; new records are lost (counted)")  # fmt: skip
            else:
                self._buffer.append(record)
                if not self._gathering:
                    self._cond.notify_all()
        return record

    @contextlib.contextmanager
    def gathered(self) -> Iterator[None]:
        """Records emitted inside reach the writer together when it ends: one commit for a batch
        of cells, not one wake-up of the writer per record."""
        with self._cond:
            self._gathering += 1
        try:
            yield
        finally:
            with self._cond:
                self._gathering -= 1
                self._cond.notify_all()

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warn(message)

    @property
    def unstored(self) -> int:
        """Records made but not yet committed."""
        with self._cond:
            return len(self._buffer)

    # -- the writer thread -----------------------------------------------------------------------

    def _write_loop(self) -> None:
        wait = RETRY_FIRST_S
        while True:
            with self._cond:
                while not self._buffer and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return  # close() takes what is left
                batch = [self._buffer[i] for i in range(min(BATCH, len(self._buffer)))]
            try:
                self.store.append_many(batch)
            except (sqlite3.Error, OSError) as exc:
                self.store_error = str(exc)
                self._warn(f"the store cannot take records right now ({exc}); "
                           "keeping them in memory and retrying")  # fmt: skip
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, timeout=wait)
                wait = min(wait * 2, RETRY_MAX_S)
                continue
            except Exception:  # a bug: say so once, keep the records, keep trying
                log.debug("writer failed", exc_info=True)
                self._warn("writing records failed (a bug); retrying")
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, timeout=RETRY_MAX_S)
                continue
            wait = RETRY_FIRST_S
            self.store_error = None
            with self._cond:
                for _ in batch:
                    self._buffer.popleft()
                self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait at most ``timeout`` s for every record made so far to be committed."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._buffer, timeout=max(0.0, timeout))

    def close(self, timeout: float) -> list[dict[str, Any]]:
        """Flush for at most ``timeout`` s, stop the writer, and return the records left unstored.

        A commit in progress is waited for (the store's busy timeout bounds it), so when this
        returns no record is both returned and committed.
        """
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._writer.join()
        with self._cond:
            left = list(self._buffer)
            self._buffer.clear()
        return left

    # -- the record types --------------------------------------------------------------------------

    def start(self, **fields: Any) -> dict[str, Any]:
        return self.emit("session_start", fields)

    def cell(self, fields: dict[str, Any]) -> dict[str, Any]:
        status = fields["status"]
        self.cells[status] += 1
        if status == "error" and self.first_error_after is None:
            self.first_error_after = time.monotonic() - self.started
        return self.emit("cell", fields)

    def kernel_event(self, **fields: Any) -> dict[str, Any]:
        return self.emit("kernel", fields)

    def end(self, reason: EndReason, **fields: Any) -> dict[str, Any]:
        """Emit session_end. ``records_dropped`` has the records this session lost so far; the
        store adds those it evicted, unreported, when it commits the record."""
        counts = {k: self.cells[k] for k in ("ok", "error", "interrupted", "aborted")}
        return self.emit(
            "session_end",
            {
                "reason": reason,
                "duration_s": round(time.monotonic() - self.started, 6),
                "cells": {"total": sum(counts.values()), **counts},
                "time_to_first_error_s": self.first_error_after,
                "records_dropped": dict(self.lost),
                **fields,
            },
        )
