"""The background writer: the cell path never waits on the store (its lock, a commit, eviction)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from gclog.identity import Identity
from gclog.pipeline.session import Session
from gclog.privacy.filter import PrivacyFilter
from gclog.store.store import Store

# A second real process takes the store's write lock and holds it until told to let go.
HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


def hold_lock(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def started_session(store: Store, tmp_path: Path) -> Session:
    """A session on ``store`` whose session_start was emitted."""
    session = Session(
        "attach",
        store,
        Identity.load_or_create(tmp_path / "id.json"),
        record_filter=PrivacyFilter("full"),
    )
    session.start()
    return session


def test_cells_go_on_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store(path, busy_timeout=0.2)
    session = started_session(store, tmp_path)
    assert session.flush(10)
    holder = hold_lock(path)
    try:
        # 50 cells while the lock is held: each emit returns without the store. Before the
        # writer, each one waited out SQLite's busy timeout (30 s) on the observer's thread.
        cells = threading.Thread(
            target=lambda: [session.cell({"status": "ok"}) for _ in range(50)], daemon=True
        )
        cells.start()
        cells.join(timeout=20)
        assert not cells.is_alive(), "a cell waited for the store's lock"
        assert session.unstored == 50
        assert not session.flush(0.3)  # still locked: nothing committed, nothing lost
        assert not session.lost
    finally:
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.close()
        holder.wait(10)
    session.end("completed")
    assert session.close(10) == []
    records = list(store.records(session.id))
    assert [r["seq"] for r in records] == list(range(1, 53))  # all of them, in order
    store.close()


def test_close_hands_back_what_a_locked_store_never_took(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store(path, busy_timeout=0.2)
    Store(path).close()  # made before the lock is taken
    holder = hold_lock(path)
    try:
        session = started_session(store, tmp_path)
        session.cell({"status": "ok"})
        session.end("completed")
        left = session.close(0.5)  # bounded: the lock is still held
        assert [r["event_type"] for r in left] == ["session_start", "cell", "session_end"]
        assert session.unstored == 0
    finally:
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.close()
        holder.wait(10)
    assert list(store.records(session.id)) == []  # none of them both handed back and stored
    store.close()


class CountingStore(Store):
    """A real store that remembers the size of each commit."""

    commits: list[int]

    def append_many(self, records: list[dict[str, object]]) -> list[int]:  # type: ignore[override]
        self.commits.append(len(records))
        return super().append_many(records)  # type: ignore[arg-type]


def test_records_gathered_reach_the_store_in_one_commit(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "store.sqlite3")
    store.commits = []
    session = started_session(store, tmp_path)
    assert session.flush(10)
    time.sleep(0.2)  # the writer goes back to waiting for word
    with session.gathered():
        for _ in range(6):
            session.cell({"status": "ok"})
        # Nobody told the writer: the records wait in memory until the batch ends.
        assert not session.flush(0.2) and session.unstored == 6
    assert session.flush(10)
    assert store.commits == [1, 6]
    session.cell({"status": "ok"})  # outside a batch: on its way at once
    assert session.flush(10) and store.commits == [1, 6, 1]
    assert session.close(5) == []
    assert [r["seq"] for r in store.records()] == list(range(1, 9))
    store.close()
