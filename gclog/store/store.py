"""The embedded store: every record, committed as it is made, in a SQLite database (WAL).

It is also the shipper's durable queue: a record stays "undelivered" (``delivered_at IS NULL``)
until Firehose has accepted it, and nothing is deleted before that unless the store is full.
``synchronous=NORMAL`` in WAL mode keeps every committed record through a crash or ``kill -9`` of
gclog; only a power loss can take the last few transactions.

Several processes may ship from one store at once (a run, an attach, ``gclog flush``): a shipper
*claims* the records it is about to send (``claim_owner``, ``claim_until``), so no two send the
same records; a claim lapses at ``claim_until``, or sooner when its owner is known to be dead.

A store may be capped (``max_bytes``). The cap counts what is on disk — the database file and its
write-ahead log — as well as the records' own bytes: the log is checkpointed every
``max_bytes / 16`` and cut back to that size, and freed pages are given back to the file system
(incremental vacuum), so the files stay near the cap. (Caps under 1 MiB, which only tests use,
count record bytes only: an empty store is already ~50 KiB.) When full it evicts, in order:
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

from gclog.errors import GclogError
from gclog.store.cap import Cap
from gclog.store.queue import Queue

SCHEMA_VERSION = 3  # 2: claims (claim_owner, claim_until) and eviction's indexes; 3: set_aside

WAL_MIN, WAL_MAX = 64 * 1024, 2**20  # the write-ahead log's limits (SQLite's default: 4 MiB)

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
    # Records Firehose refused one by one (a 400 for that record alone): kept for a person to see,
    # never shipped again, never evicted. `gclog status` counts them; `gclog doctor` lists them.
    """CREATE TABLE IF NOT EXISTS set_aside (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        event_time TEXT NOT NULL,
        body TEXT NOT NULL,
        reason TEXT NOT NULL,
        set_aside_at TEXT NOT NULL
    )""",
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
    set_aside: int  # records Firehose refused for themselves, kept out of the queue
    set_aside_reason: str | None
    last_upload: LastUpload


class Store(Queue, Cap):
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
            if not self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                # A new store (set before WAL mode, or it does not take): freed pages can go
                # back to the file system.
                self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # 512 KiB of page cache, not SQLite's 2 MB: appends and in-order reads gain nothing
            # from more, and in a long `gclog run` the cache filled with record pages (~2 MB).
            self._db.execute("PRAGMA cache_size=-512")
            # The log is checkpointed every wal_bytes and cut back to that: it must not
            # outgrow a small cap, nor fill a small disk with records the file never gets.
            wal_bytes = min(WAL_MAX, max(WAL_MIN, (self.max_bytes or WAL_MAX) // 16))
            self._db.execute(f"PRAGMA journal_size_limit={wal_bytes}")
            self._db.execute(f"PRAGMA wal_autocheckpoint={wal_bytes // 4096}")
            if self._schema_version() < SCHEMA_VERSION:
                self._create_or_migrate()
        except (OSError, sqlite3.Error) as exc:
            raise GclogError(
                f"cannot open the store {path}: {exc} (`gclog doctor` sets a damaged store "
                "aside, keeping what it can read)"
            ) from None

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
        if (
            self._schema_version() == 0
            and not self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
        ):  # a new store: freed pages can go back to the file system
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
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

    def import_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows (id, session_id, seq, event_type, event_time, bytes, body, delivered_at) read
        from another store (``gclog doctor``): kept as they were, delivered ones delivered."""
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO records(session_id, seq, event_type, event_time, bytes, body,"
                " delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [tuple(row[1:]) for row in rows],
            )

    def import_set_aside(self, rows: list[tuple[Any, ...]]) -> None:
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO set_aside(session_id, seq, event_type, event_time, body, reason,"
                " set_aside_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [tuple(row[1:]) for row in rows],
            )

    def add_counts(self, counts: dict[str, int]) -> None:
        """Add to the meta counters (``evicted.*``, ``unreported.*``)."""
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                " SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
                list(counts.items()),
            )

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
        """The session that started last (its earliest record is the latest), not the one that
        wrote last: a live session's metric windows keep coming after a newer one started."""
        rows = self._query(
            "SELECT session_id FROM records GROUP BY session_id"
            " ORDER BY MIN(event_time) DESC, MIN(id) DESC LIMIT 1"
        )
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
        set_aside, reason = self._query(
            "SELECT COUNT(*), (SELECT reason FROM set_aside ORDER BY id DESC LIMIT 1) FROM set_aside"
        )[0]
        return {
            "set_aside": int(set_aside),
            "set_aside_reason": reason,
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
