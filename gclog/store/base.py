"""What the store's parts share: the connection, its lock, short transactions."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

CHUNK = 500  # rows per write transaction of the shipper: a few ms of lock, not tens


class StoreBase:
    """The connection (``_db``) and the lock that makes a handle thread-safe (``_lock``)."""

    path: Path
    _db: sqlite3.Connection
    _lock: threading.Lock

    def _transaction(self) -> Any:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); the caller holds ``_lock`` if needed."""
        return _Transaction(self._db)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _update_in_chunks(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One short write transaction per CHUNK rows, so a session appending never waits long."""
        for start in range(0, len(rows), CHUNK):
            with self._lock, self._transaction():
                self._db.executemany(sql, rows[start : start + CHUNK])


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
