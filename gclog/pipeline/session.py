"""A recording session: stamps each record with the envelope and commits it to the store.

Every entry point (run, attach, extension) records through one Session. ``emit`` is thread-safe
(cell records come from the observer, metric windows from sampler threads) and gives ``seq`` in
commit order. A record that the store cannot take right now (disk full, a lock held too long) is
kept in memory and retried on the next emit and at the end: it is not dropped.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from gclog import __version__
from gclog.identity import Identity
from gclog.records import SCHEMA, EndReason, EntryPoint, now_iso
from gclog.store.store import Store

log = logging.getLogger(__name__)

RecordFilter = Callable[[dict[str, Any]], dict[str, Any]]


class Session:
    def __init__(
        self,
        entry_point: EntryPoint,
        store: Store,
        identity: Identity,
        notebook_id: str | None = None,
        record_filter: RecordFilter | None = None,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.entry_point = entry_point
        self.store = store
        self.identity = identity
        self.notebook_id = notebook_id  # the notebook key (gclog/enrich/identities.py)
        self.record_filter = record_filter
        self.started = time.monotonic()
        self.cells: Counter[str] = Counter()
        self.first_error_after: float | None = None
        self.unstored: collections.deque[dict[str, Any]] = collections.deque()
        self._seq = 0
        self._lock = threading.Lock()
        self._warned = False

    def emit(self, event_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            record: dict[str, Any] = {
                "schema": SCHEMA,
                "event_id": str(uuid.uuid4()),
                "event_type": event_type,
                "event_time": now_iso(),
                "session_id": self.id,
                "seq": self._seq,
                "source": self.entry_point,
                "user_id": self.identity.install_id,
                "notebook_id": self.notebook_id,
                "gclog_version": __version__,
                **fields,
            }
            if self.record_filter is not None:
                record = self.record_filter(record)
            self.unstored.append(record)
            self._drain()
            return record

    def _drain(self) -> None:
        try:
            while self.unstored:
                self.store.append(self.unstored[0])
                self.unstored.popleft()
        except (sqlite3.Error, OSError) as exc:
            if not self._warned:
                self._warned = True
                print(
                    f"gclog: warning: the store cannot take records right now ({exc}); "
                    "keeping them in memory and retrying",
                    file=sys.stderr,
                )

    def flush(self) -> bool:
        """Retry records the store refused earlier; True when none are left."""
        with self._lock:
            self._drain()
            return not self.unstored

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
        counts = {k: self.cells[k] for k in ("ok", "error", "interrupted", "aborted")}
        try:
            dropped = self.store.take_unreported_evictions()
        except (sqlite3.Error, OSError):
            dropped = {}  # they stay unreported in the store: the next session_end has them
        return self.emit(
            "session_end",
            {
                "reason": reason,
                "duration_s": round(time.monotonic() - self.started, 6),
                "cells": {"total": sum(counts.values()), **counts},
                "time_to_first_error_s": self.first_error_after,
                "records_dropped": dropped,
                **fields,
            },
        )
