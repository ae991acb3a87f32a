"""The embedded store as a durable queue: concurrent writers, crashes, delivery marks."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gclog.errors import GclogError
from gclog.store.store import Store


def record(session: str, seq: int, **extra: object) -> dict[str, object]:
    return {
        "session_id": session,
        "seq": seq,
        "event_type": "cell",
        "event_time": "2026-12-01T00:00:00.000000Z",
        "event_id": f"{session}-{seq}",
        **extra,
    }


def test_append_read_back_and_deliver(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        ids = [store.append(record("a", i, code="é" * i)) for i in range(1, 6)]
        assert ids == sorted(ids)
        assert [r["seq"] for r in store.records("a")] == [1, 2, 3, 4, 5]
        assert store.counts() == {"records": 5, "undelivered": 5}
        pending = store.pending(limit=3)
        assert [json.loads(body)["seq"] for _, body in pending] == [1, 2, 3]
        store.mark_delivered([row_id for row_id, _ in pending])
        assert store.counts() == {"records": 5, "undelivered": 2}
        assert [json.loads(b)["seq"] for _, b in store.pending(limit=10)] == [4, 5]
        # delivered records are kept: reports and exports still see them
        assert len(list(store.records())) == 5


def test_sessions_last_and_prefixes(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        for session in ("abc-1", "abd-2", "x_%"):
            store.append(record(session, 1))
        assert store.last_session_id() == "x_%"
        assert store.session_ids("ab") == ["abc-1", "abd-2"]
        assert store.session_ids("x_") == ["x_%"]
        assert store.session_ids("%") == []  # LIKE wildcards are escaped


def test_threads_and_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)

    def write(name: str) -> None:
        for i in range(200):
            store.append(record(name, i))

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    procs = [
        # spawn, not fork: a child forked while a thread holds SQLite's locks inherits SQLite's
        # in-process lock bookkeeping and can wait forever ("database is locked" after 30 s).
        multiprocessing.get_context("spawn").Process(target=_write_many, args=(path, f"p{n}", 200))
        for n in range(2)
    ]
    for worker in threads + procs:
        worker.start()
    for worker in threads + procs:
        worker.join()
    assert all(p.exitcode == 0 for p in procs)
    assert store.counts()["records"] == 6 * 200
    store.close()


def _write_many(path: Path, session: str, count: int) -> None:
    with Store(path) as store:
        for i in range(count):
            store.append(record(session, i))


WRITER = """
import sys
from gclog.store.store import Store
store = Store(__import__("pathlib").Path(sys.argv[1]))
i = 0
while True:
    i += 1
    store.append({"session_id": "s", "seq": i, "event_type": "cell",
                  "event_time": "t", "event_id": str(i), "pad": "x" * 500})
    print(i, flush=True)
"""


def test_kill_9_in_the_middle_of_writing_keeps_every_committed_record(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    committed = 0
    deadline = time.monotonic() + 30
    while committed < 500 and time.monotonic() < deadline:
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(path) as store:
        seqs = [r["seq"] for r in store.records("s")]
    assert len(seqs) >= committed
    assert seqs == list(range(1, len(seqs) + 1))  # no holes, nothing half-written


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(GclogError, match="cannot open the store"):
        Store(path)


def test_a_store_in_an_impossible_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GclogError, match="cannot open the store"):
        Store(blocker / "sub" / "s.db")


def test_text_that_is_not_valid_utf8_is_stored_escaped_not_lost(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.append(record("s", 1, code="half a pair: \ud800 and on"))
        (back,) = list(store.records("s"))
    assert back["code"] == "half a pair: \ud800 and on"
