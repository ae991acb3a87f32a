"""The store's cap: what it takes on disk, and eviction, counted (see store.py's docstring)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from typing import Any

from gclog.store.base import StoreBase

MIN_DISK_CAP = 2**20  # caps from this size count the files on disk too (see the docstring)
EVICT_TO = 0.9  # a full store evicts down to this share of its cap, so it does not evict per append
# What a full store gives up first: (name, SQL condition). Delivered records are "pruned" (they
# reached Firehose); the others are "evicted", i.e. lost to the pipeline, and counted.
EVICTION_ORDER = (
    ("delivered", "delivered_at IS NOT NULL"),
    ("metrics", "delivered_at IS NULL AND event_type = 'metrics'"),
    (
        "cells",
        "delivered_at IS NULL AND event_type NOT IN ('metrics', 'session_start', 'session_end')",
    ),
    ("sessions", "delivered_at IS NULL AND event_type IN ('session_start', 'session_end')"),
)


class Cap(StoreBase):
    """The cap's part of :class:`~gclog.store.store.Store`."""

    def disk_bytes(self) -> int:
        """What the store takes on disk: the database file and its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.stat(f"{self.path}{suffix}").st_size
        return total

    def _enforce_cap(self, max_bytes: int) -> None:
        """Evict (see the module's docstring) until the records take at most EVICT_TO × the cap,
        and their share of the disk does too."""
        total = int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM records").fetchone()[0])
        disk = self.disk_bytes() if max_bytes >= MIN_DISK_CAP else 0
        if total <= max_bytes and disk <= max_bytes:
            return
        to_free = total - int(max_bytes * EVICT_TO)
        if disk > max_bytes:  # the files hold more than the records: free the same share of them
            to_free = max(to_free, total - int(total * max_bytes * EVICT_TO / disk))
        self._evict(to_free)
        # Give the freed pages back and let the log start over at its limited size.
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA incremental_vacuum").fetchall()  # steps it to the end
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _evict(self, to_free: int) -> None:
        now = time.time()
        with self._transaction():
            evicted: dict[str, int] = {}
            for name, condition in EVICTION_ORDER:
                if to_free <= 0:
                    break
                # A record being sent right now is left alone: it may well arrive.
                unclaimed = " AND (claim_until IS NULL OR claim_until < ?)"
                live_claim = "" if name == "delivered" else unclaimed
                params: tuple[Any, ...] = () if name == "delivered" else (now,)
                while to_free > 0:
                    rows = self._db.execute(
                        f"SELECT id, bytes, event_type FROM records WHERE {condition}"
                        f"{live_claim} ORDER BY id LIMIT 500",
                        params,
                    ).fetchall()
                    if not rows:
                        break
                    victims = []
                    for row_id, size, event_type in rows:
                        victims.append((row_id,))
                        to_free -= int(size)
                        if name != "delivered":
                            evicted[event_type] = evicted.get(event_type, 0) + 1
                        if to_free <= 0:
                            break
                    self._db.executemany("DELETE FROM records WHERE id = ?", victims)
            counters = [(f"evicted.{k}", v) for k, v in evicted.items()]
            counters += [(f"unreported.{k}", v) for k, v in evicted.items()]
            self._db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                " SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
                counters,
            )

    def take_unreported_evictions(self) -> dict[str, int]:
        """Evictions no ``session_end`` has reported yet, by event_type; they count as reported now."""
        with self._lock, self._transaction():
            return self._take_unreported()

    def _take_unreported(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT key, value FROM meta WHERE key LIKE 'unreported.%'"
        ).fetchall()
        self._db.execute("DELETE FROM meta WHERE key LIKE 'unreported.%'")
        return {key.split(".", 1)[1]: int(value) for key, value in rows if int(value)}
