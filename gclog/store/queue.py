"""The store as the shipper's durable queue: claims, delivery, records set aside.

Several shippers may share one store: a shipper *claims* the records it is about to send
(``claim_owner``, ``claim_until``), so no two send the same records; a claim lapses at
``claim_until``, or sooner when its owner is known to be dead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from gclog.records import now_iso
from gclog.store.base import StoreBase

CLAIM_TRIES = 5  # claims lost whole to other shippers before one gives up for this cycle


class Queue(StoreBase):
    """The queue's part of :class:`~gclog.store.store.Store`."""

    def mark_delivered(self, ids: Iterable[int]) -> None:
        stamp = now_iso()
        self._update_in_chunks(
            "UPDATE records SET delivered_at = ?, claim_owner = NULL, claim_until = NULL"
            " WHERE id = ? AND delivered_at IS NULL",
            [(stamp, i) for i in ids],
        )

    def claim(
        self, owner: str, max_records: int, max_bytes: int, lease_s: float
    ) -> list[tuple[int, str]]:
        """Claim the oldest unclaimed undelivered records for ``owner``, as (row id, JSON text).

        At most ``max_records``, and no more than ``max_bytes`` of them (but always at least one,
        however big). The claim lapses after ``lease_s`` seconds unless delivered or released.
        Candidates are read without a lock; each is claimed only if it is still free when
        written, so a record another shipper took in between is simply left to it. When another
        shipper took every candidate, the next ones are tried: an empty claim means none is free
        (a shipper that lost the race must not take the queue for drained).
        """
        for _ in range(CLAIM_TRIES):
            rows = self._claim_once(owner, max_records, max_bytes, lease_s)
            if rows is not None:
                return rows
        return []

    def _claim_once(
        self, owner: str, max_records: int, max_bytes: int, lease_s: float
    ) -> list[tuple[int, str]] | None:
        """One try: the claimed rows; [] when none is free; None when others took them all."""
        now = time.time()
        free = (
            "delivered_at IS NULL AND (claim_until IS NULL OR claim_until < ? OR claim_owner = ?)"
        )
        candidates = self._query(
            f"SELECT id, bytes FROM records WHERE {free} ORDER BY id LIMIT ?",
            (now, owner, max_records),
        )
        ids: list[int] = []
        total = 0
        for row_id, size in candidates:
            if ids and total + size > max_bytes:
                break
            ids.append(int(row_id))
            total += int(size)
        if not ids:
            return []
        self._update_in_chunks(
            f"UPDATE records SET claim_owner = ?, claim_until = ? WHERE id = ? AND {free}",
            [(owner, now + lease_s, i, now, owner) for i in ids],
        )
        rows = self._query(
            "SELECT id, body FROM records WHERE id >= ? AND id <= ? AND claim_owner = ?"
            " AND delivered_at IS NULL ORDER BY id",
            (ids[0], ids[-1], owner),
        )
        return [(int(i), str(b)) for i, b in rows] or None

    def set_aside(self, ids: Iterable[int], reason: str) -> None:
        """Move records Firehose refused for themselves out of the queue, into ``set_aside``."""
        stamp = now_iso()
        with self._lock, self._transaction():
            for row_id in ids:
                self._db.execute(
                    "INSERT OR IGNORE INTO set_aside(id, session_id, seq, event_type, event_time,"
                    " body, reason, set_aside_at) SELECT id, session_id, seq, event_type,"
                    " event_time, body, ?, ? FROM records WHERE id = ?",
                    (reason, stamp, row_id),
                )
                self._db.execute("DELETE FROM records WHERE id = ?", (row_id,))

    def set_aside_records(self) -> list[dict[str, Any]]:
        """The records set aside, oldest first: where they came from, why, and the record."""
        rows = self._query(
            "SELECT session_id, seq, event_type, reason, set_aside_at, body FROM set_aside"
            " ORDER BY id"
        )
        keys = ("session_id", "seq", "event_type", "reason", "set_aside_at")
        return [
            {**dict(zip(keys, row[:5], strict=True)), "record": json.loads(row[5])} for row in rows
        ]

    def release(self, owner: str, ids: Iterable[int] | None = None) -> None:
        """Give back ``owner``'s claims (all of them, or those on ``ids``) for anyone to take."""
        if ids is None:
            with self._lock, self._transaction():
                self._db.execute(
                    "UPDATE records SET claim_owner = NULL, claim_until = NULL"
                    " WHERE delivered_at IS NULL AND claim_owner = ?",
                    (owner,),
                )
        else:
            self._update_in_chunks(
                "UPDATE records SET claim_owner = NULL, claim_until = NULL"
                " WHERE id = ? AND claim_owner = ?",
                [(i, owner) for i in ids],
            )

    def claimed_elsewhere(self, owner: str) -> int:
        """Undelivered records another shipper holds a live claim on (it is sending them now)."""
        rows = self._query(
            "SELECT COUNT(*) FROM records WHERE delivered_at IS NULL AND claim_owner IS NOT NULL"
            " AND claim_owner != ? AND claim_until >= ?",
            (owner, time.time()),
        )
        return int(rows[0][0])

    def claim_owners(self) -> list[str]:
        """Owners holding live claims on undelivered records (to check for dead ones)."""
        rows = self._query(
            "SELECT DISTINCT claim_owner FROM records WHERE delivered_at IS NULL"
            " AND claim_owner IS NOT NULL AND claim_until >= ?",
            (time.time(),),
        )
        return [str(r[0]) for r in rows]
