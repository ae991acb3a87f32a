"""The embedded store: every record, committed as it is made, in a SQLite database (WAL).

It is also the shipper's durable queue: a record stays "undelivered" (``delivered_at IS NULL``)
until Firehose has accepted it, and nothing is deleted before that. ``synchronous=NORMAL`` in WAL
mode keeps every committed record through a crash or ``kill -9`` of gclog; only a power loss can
take the last few transactions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gclog.errors import GclogError
from gclog.records import now_iso

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    event_time TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    body TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS records_undelivered ON records(id) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS records_session ON records(session_id, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """A thread-safe handle on the store; several processes may share the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_DDL)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        except (OSError, sqlite3.Error) as exc:
            raise GclogError(f"cannot open the store {path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> int:
        """Commit one record; returns its row id."""
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO records(session_id, seq, event_type, event_time, bytes, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record["session_id"],
                    record["seq"],
                    record["event_type"],
                    record["event_time"],
                    len(body.encode("utf-8", "surrogatepass")),
                    body,
                ),
            )
            return int(cursor.lastrowid or 0)

    def mark_delivered(self, ids: Iterable[int]) -> None:
        rows = [(now_iso(), i) for i in ids]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "UPDATE records SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

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
        total, undelivered = self._query(
            "SELECT COUNT(*), COUNT(*) - COUNT(delivered_at) FROM records"
        )[0]
        return {"records": int(total), "undelivered": int(undelivered)}
