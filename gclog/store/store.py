"""The embedded store: every record, committed as it is made, in a SQLite database (WAL).

It is also the shipper's durable queue: a record stays "undelivered" (``delivered_at IS NULL``)
until Firehose has accepted it, and nothing is deleted before that unless the store is full.
``synchronous=NORMAL`` in WAL mode keeps every committed record through a crash or ``kill -9`` of
gclog; only a power loss can take the last few transactions.

Several processes may ship from one store at once (a run, an attach, ``gclog flush``): a shipper
*claims* the records it is about to send (``claim_owner``, ``claim_until``), so no two send the
same records; a claim lapses at ``claim_until``, or sooner when its owner is known to be dead.

A store may be capped (``max_bytes``, counted in record bytes). When full it evicts, in order:
delivered records (already shipped: only local history is lost), then undelivered metric windows,
then undelivered cell and kernel records, then session records — oldest first within each class.
Every undelivered record evicted is counted in the meta table, both in total (for ``gclog status``)
and as "unreported" until a ``session_end`` record takes the count (``records_dropped``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypedDict

from gclog.errors import GclogError
from gclog.records import now_iso

SCHEMA_VERSION = 2  # 2: claims (claim_owner, claim_until) and the indexes eviction needs

CHUNK = 500  # rows per write transaction of the shipper: a few ms of lock, not tens
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

_TABLES = (
    """CREATE TABLE IF NOT EXISTS records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        event_time TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        body TEXT NOT NULL,
        delivered_at TEXT,
        claim_owner TEXT,
        claim_until REAL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# Made after the columns exist (a version-1 store gains the claim columns first).
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS records_undelivered ON records(id) WHERE delivered_at IS NULL",
    "CREATE INDEX IF NOT EXISTS records_session ON records(session_id, seq)",
    "CREATE INDEX IF NOT EXISTS records_bytes ON records(bytes)",
    "CREATE INDEX IF NOT EXISTS records_delivered ON records(id) WHERE delivered_at IS NOT NULL",
    # The backlog's size from an index alone, not from every undelivered record's pages.
    "CREATE INDEX IF NOT EXISTS records_undelivered_bytes ON records(bytes)"
    " WHERE delivered_at IS NULL",
)
COUNT_ALL = "SELECT COUNT(*) FROM records"  # SQLite counts the smallest index
COUNT_UNDELIVERED = "SELECT COUNT(*) FROM records WHERE delivered_at IS NULL"  # a partial index
BACKLOG_BYTES = "SELECT COALESCE(SUM(bytes), 0) FROM records WHERE delivered_at IS NULL"
# The first undelivered record is the oldest (records come in time order): one index entry.
OLDEST_UNDELIVERED = "SELECT event_time FROM records WHERE delivered_at IS NULL ORDER BY id LIMIT 1"


class LastUpload(TypedDict):
    at: str | None
    ok: bool | None
    records: int
    error: str | None
    destination: str | None


class ShippingStatus(TypedDict):
    """What ``gclog status`` shows about the queue; read from the store, so any process can."""

    records: int
    undelivered: int
    undelivered_bytes: int
    oldest_undelivered_at: str | None
    evicted: dict[str, int]
    last_upload: LastUpload


class Store:
    """A thread-safe handle on the store; several processes may share the file.

    ``max_bytes`` caps the records' bytes; only a handle that appends needs it (the cap is
    checked every ``max_bytes / 50`` bytes appended through this handle, so it may be passed by
    that much, per writing process, before eviction).
    """

    def __init__(
        self, path: Path, max_bytes: int | None = None, busy_timeout: float = 30.0
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes or None
        self._check_every = max(1, (max_bytes or 0) // 50)
        self._unchecked = self._check_every  # check on the first append
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if self._schema_version() < SCHEMA_VERSION:
                self._create_or_migrate()
        except (OSError, sqlite3.Error) as exc:
            raise GclogError(f"cannot open the store {path}: {exc}") from None

    def _schema_version(self) -> int:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:  # no meta table: a new store
            return 0
        return int(row[0]) if row else 0

    def _create_or_migrate(self) -> None:
        """Make the store, or bring one made by an older gclog up to this schema, in place.

        Only then does opening write: many processes may open a store at once.
        """
        with self._transaction():
            for statement in _TABLES:
                self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(records)")}
            for column, kind in (("claim_owner", "TEXT"), ("claim_until", "REAL")):
                if column not in columns:
                    self._db.execute(f"ALTER TABLE records ADD COLUMN {column} {kind}")
            for statement in _INDEXES:
                self._db.execute(statement)
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    def _transaction(self) -> Any:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); the caller holds ``_lock`` if needed."""
        return _Transaction(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> int:
        """Commit one record; returns its row id. A capped store may evict older records."""
        return self.append_many([record])[0]

    def append_many(self, records: list[dict[str, Any]]) -> list[int]:
        """Commit ``records`` in one transaction; returns their row ids.

        A ``session_end`` takes the store's unreported evictions into its ``records_dropped``
        in the same transaction, so a count is reported exactly once even if the commit fails.
        """
        with self._lock:
            ids: list[int] = []
            appended = 0
            with self._transaction():
                taken = self._take_unreported() if _has_end(records) else {}
                for record in records:
                    body = record
                    if taken and record.get("event_type") == "session_end":
                        body = {**record, "records_dropped": _merged(record, taken)}
                    text, size = _encode(body)
                    cursor = self._db.execute(
                        "INSERT INTO records(session_id, seq, event_type, event_time, bytes, body)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            record["session_id"],
                            record["seq"],
                            record["event_type"],
                            record["event_time"],
                            size,
                            text,
                        ),
                    )
                    ids.append(int(cursor.lastrowid or 0))
                    appended += size
            for record in records:  # committed: the caller's copy shows the counts too
                if taken and record.get("event_type") == "session_end":
                    record["records_dropped"] = _merged(record, taken)
            if self.max_bytes is not None:
                self._unchecked += appended
                if self._unchecked >= self._check_every:
                    self._unchecked = 0
                    # The records are committed: a failed eviction must not make them retried.
                    with contextlib.suppress(sqlite3.Error, OSError):
                        self._enforce_cap(self.max_bytes)
            return ids

    def mark_delivered(self, ids: Iterable[int]) -> None:
        stamp = now_iso()
        self._update_in_chunks(
            "UPDATE records SET delivered_at = ?, claim_owner = NULL, claim_until = NULL"
            " WHERE id = ? AND delivered_at IS NULL",
            [(stamp, i) for i in ids],
        )

    def _update_in_chunks(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One short write transaction per CHUNK rows, so a session appending never waits long."""
        for start in range(0, len(rows), CHUNK):
            with self._lock, self._transaction():
                self._db.executemany(sql, rows[start : start + CHUNK])

    # -- claims: several shippers, no record sent twice at once ------------------------------------

    def claim(
        self, owner: str, max_records: int, max_bytes: int, lease_s: float
    ) -> list[tuple[int, str]]:
        """Claim the oldest unclaimed undelivered records for ``owner``, as (row id, JSON text).

        At most ``max_records``, and no more than ``max_bytes`` of them (but always at least one,
        however big). The claim lapses after ``lease_s`` seconds unless delivered or released.
        Candidates are read without a lock; each is claimed only if it is still free when
        written, so a record another shipper took in between is simply left to it.
        """
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
        return [(int(i), str(b)) for i, b in rows]

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

    def claim_owners(self) -> list[str]:
        """Owners holding live claims on undelivered records (to check for dead ones)."""
        rows = self._query(
            "SELECT DISTINCT claim_owner FROM records WHERE delivered_at IS NULL"
            " AND claim_owner IS NOT NULL AND claim_until >= ?",
            (time.time(),),
        )
        return [str(r[0]) for r in rows]

    # -- the cap: eviction, counted --------------------------------------------------------------

    def _enforce_cap(self, max_bytes: int) -> None:
        """Evict (see the module's docstring) until the records take at most EVICT_TO × the cap."""
        total = int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM records").fetchone()[0])
        if total <= max_bytes:
            return
        to_free = total - int(max_bytes * EVICT_TO)
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

    # -- meta: small facts other processes read (shipping status) --------------------------------

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    def meta(self, prefix: str) -> dict[str, str]:
        """Meta entries whose key starts with ``prefix`` (the prefix is stripped)."""
        rows = self._query(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        )
        return {str(k)[len(prefix) :]: str(v) for k, v in rows}

    # -- reading ---------------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def bodies(self, session_id: str | None = None) -> Iterator[str]:
        """The stored records as JSON text, oldest first (by session and seq when one is named)."""
        last = 0
        while True:
            if session_id is None:
                rows = self._query(
                    "SELECT id, body FROM records WHERE id > ? ORDER BY id LIMIT 1000", (last,)
                )
            else:
                rows = self._query(
                    "SELECT id, body FROM records WHERE session_id = ? AND id > ?"
                    " ORDER BY id LIMIT 1000",
                    (session_id, last),
                )
            if not rows:
                return
            for _, body in rows:
                yield body
            last = rows[-1][0]

    def records(self, session_id: str | None = None) -> Iterator[dict[str, Any]]:
        return (json.loads(body) for body in self.bodies(session_id))

    def last_session_id(self) -> str | None:
        rows = self._query("SELECT session_id FROM records ORDER BY id DESC LIMIT 1")
        return rows[0][0] if rows else None

    def session_ids(self, prefix: str = "") -> list[str]:
        rows = self._query(
            "SELECT session_id, MIN(id) AS first FROM records WHERE session_id LIKE ? ESCAPE '\\'"
            " GROUP BY session_id ORDER BY first",
            (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        )
        return [r[0] for r in rows]

    def pending(self, limit: int, after_id: int = 0) -> list[tuple[int, str]]:
        """Undelivered records, oldest first, as (row id, JSON text)."""
        return [
            (int(i), str(b))
            for i, b in self._query(
                "SELECT id, body FROM records WHERE delivered_at IS NULL AND id > ?"
                " ORDER BY id LIMIT ?",
                (after_id, limit),
            )
        ]

    def delivery_counts(self, session_id: str) -> tuple[int, int]:
        """(delivered, undelivered) records of one session."""
        delivered, undelivered = self._query(
            "SELECT COUNT(delivered_at), COUNT(*) - COUNT(delivered_at) FROM records"
            " WHERE session_id = ?",
            (session_id,),
        )[0]
        return int(delivered), int(undelivered)

    def counts(self) -> dict[str, int]:
        # Two counts that indexes answer: one over every row would read every record's page
        # (`gclog status` took ~10 ms per 1,000 records stored).
        (total,) = self._query(COUNT_ALL)[0]
        (undelivered,) = self._query(COUNT_UNDELIVERED)[0]
        return {"records": int(total), "undelivered": int(undelivered)}

    def shipping_status(self) -> ShippingStatus:
        """Backlog, evictions and the last upload's outcome (written by the shipper)."""
        counts = self.counts()
        (size,) = self._query(BACKLOG_BYTES)[0]
        oldest_rows = self._query(OLDEST_UNDELIVERED)
        oldest = oldest_rows[0][0] if oldest_rows else None
        last = self.meta("ship.")
        return {
            "records": counts["records"],
            "undelivered": counts["undelivered"],
            "undelivered_bytes": int(size),
            "oldest_undelivered_at": oldest,
            "evicted": {k: int(v) for k, v in self.meta("evicted.").items()},
            "last_upload": {
                "at": last.get("at"),
                "ok": {"true": True, "false": False}.get(last.get("ok", "")),
                "records": int(last.get("records", "0")),
                "error": last.get("error") or None,
                "destination": last.get("destination"),
            },
        }


def _encode(record: dict[str, Any]) -> tuple[str, int]:
    """The record's JSON text and its size in bytes."""
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        return body, len(body.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: SQLite takes only valid UTF-8; \u-escape it
        body = json.dumps(record, separators=(",", ":"))
        return body, len(body)


def _has_end(records: list[dict[str, Any]]) -> bool:
    return any(r.get("event_type") == "session_end" for r in records)


def _merged(record: dict[str, Any], taken: dict[str, int]) -> dict[str, int]:
    counts = dict(record.get("records_dropped") or {})
    for kind, count in taken.items():
        counts[kind] = counts.get(kind, 0) + count
    return counts


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
