"""``gclog doctor``: check the store, and set a damaged one aside keeping every record still readable.

A store SQLite cannot read (a disk fault, a copy cut short) would refuse every session. The doctor
moves its files aside (``store.damaged-<time>.sqlite3``, never deleted: a person or a better tool
may get more out of it), makes a fresh store, and copies into it every record, set-aside record and
eviction count it can still read, row by row around the damage, delivered ones staying delivered.
It also takes back the records sessions had to leave in spill files.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gclog.errors import ExitCode
from gclog.store import spill
from gclog.store.store import Store

COLUMNS = "id, session_id, seq, event_type, event_time, bytes, body, delivered_at"
STEP = 500
SCAN_AHEAD = 5_000  # row ids tried one by one past a damaged stretch before giving up


@dataclass
class Diagnosis:
    problem: str | None = None  # None: healthy (or no store yet)
    damaged_copy: Path | None = None  # where a damaged store was moved
    salvaged: int = 0  # records copied from it into the new store
    taken_back: int = 0  # records taken back from spill files
    set_aside: list[dict[str, Any]] = field(default_factory=list)

    def report(self, store: Path) -> int:
        """Say what was found and done, on stderr; exit 2 if a problem is left as it was."""
        say = functools.partial(print, file=sys.stderr)
        if self.problem is None:
            say(f"gclog: the store is healthy ({store})")
        elif self.damaged_copy is None:
            say(
                f"gclog: error: the store is damaged ({self.problem}); `gclog doctor` sets it aside"
            )
            return ExitCode.BAD_INPUT
        else:
            say(
                f"gclog: the store was damaged ({self.problem}): moved to {self.damaged_copy} "
                f"(kept), and the {self.salvaged} records it still held are in a fresh store "
                f"at {store}"
            )
        if self.taken_back:
            say(f"gclog: {self.taken_back} records sessions had to leave in files are stored now")
        if self.set_aside:
            say(f"gclog: {len(self.set_aside)} records are set aside (Firehose refused them):")
            for aside in self.set_aside:
                say(
                    f"  session {aside['session_id'][:8]} seq {aside['seq']} "
                    f"{aside['event_type']}, {aside['set_aside_at']}: {aside['reason']}"
                )
        return ExitCode.OK


def problem_of(path: Path) -> str | None:
    """What is wrong with the store at ``path``, or None if SQLite reads it whole."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(path, timeout=10)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        found = [str(row[0]) for row in db.execute("PRAGMA integrity_check(5)").fetchall()]
        db.execute("SELECT COUNT(*) FROM records").fetchone()
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        db.close()
    return None if found == ["ok"] else "; ".join(found)


def examine(path: Path, state_dir: Path, repair: bool = True) -> Diagnosis:
    """Check the store; with ``repair``, set a damaged one aside and salvage it, and take back
    spill files into a healthy one."""
    diagnosis = Diagnosis(problem=problem_of(path))
    if not repair:
        return diagnosis
    if diagnosis.problem is not None:
        diagnosis.damaged_copy = _move_aside(path)
        with Store(path) as fresh:
            diagnosis.salvaged = _salvage(diagnosis.damaged_copy, fresh)
    if path.exists() or spill.pending(state_dir):
        with Store(path) as store:
            diagnosis.taken_back = spill.take_back(store, state_dir)
            diagnosis.set_aside = store.set_aside_records()
    return diagnosis


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    moved = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{moved}{suffix}")
    return moved


def _salvage(damaged: Path, fresh: Store) -> int:
    """Copy what can be read of ``damaged`` into ``fresh``; returns the records copied."""
    try:
        db = sqlite3.connect(damaged, timeout=10)
    except sqlite3.Error:
        return 0
    try:
        copied = 0
        for rows in _readable(db, "records"):
            fresh.import_rows(rows)
            copied += len(rows)
        for aside in _readable(db, "set_aside", "id, session_id, seq, event_type, event_time, "
                               "body, reason, set_aside_at"):  # fmt: skip
            fresh.import_set_aside(aside)
        with contextlib.suppress(sqlite3.Error):
            counts = db.execute(
                "SELECT key, value FROM meta WHERE key LIKE 'evicted.%' OR key LIKE 'unreported.%'"
            ).fetchall()
            fresh.add_counts({str(k): int(v) for k, v in counts})
        return copied
    finally:
        db.close()


def _readable(db: sqlite3.Connection, table: str, columns: str = COLUMNS) -> Any:
    """Batches of the rows of ``table`` that can be read, in id order, stepping over damage."""
    last = 0
    while True:
        try:
            rows = db.execute(
                f"SELECT {columns} FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (last, STEP)
            ).fetchall()
        except sqlite3.Error:
            rows = _one_by_one(db, table, columns, last)
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])


def _one_by_one(db: sqlite3.Connection, table: str, columns: str, after: int) -> list[Any]:
    """Past a damaged stretch: try the next row ids one at a time until some read again."""
    found: list[Any] = []
    for row_id in range(after + 1, after + 1 + SCAN_AHEAD):
        try:
            row = db.execute(f"SELECT {columns} FROM {table} WHERE id = ?", (row_id,)).fetchone()
        except sqlite3.Error:
            continue
        if row is not None:
            found.append(row)
            if len(found) >= STEP:
                break
    return found
