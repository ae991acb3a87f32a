"""The store as a bounded queue: the cap, what it evicts first, and every eviction counted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from gclog.identity import Identity
from gclog.pipeline.session import Session
from gclog.privacy.filter import PrivacyFilter
from gclog.store.store import Store

PAD = "x" * 900  # records of about 1 KB


def record(seq: int, event_type: str, session: str = "old") -> dict[str, Any]:
    return {
        "session_id": session,
        "seq": seq,
        "event_type": event_type,
        "event_time": "2026-12-01T00:00:00.000000Z",
        "event_id": f"{session}-{seq}",
        "pad": PAD,
    }


def kinds(store: Store) -> dict[str, int]:
    found: dict[str, int] = {}
    for item in store.records():
        found[item["event_type"]] = found.get(item["event_type"], 0) + 1
    return found


def record_bytes(store: Store) -> int:
    return sum(len(body.encode()) for body in store.bodies())


def test_a_full_store_gives_up_delivered_then_metrics_then_cells_then_sessions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:  # no cap while filling: 42 records of ~1 KB
        types = ["session_start"] + ["cell", "metrics"] * 20 + ["session_end"]
        for seq, event_type in enumerate(types, start=1):
            store.append(record(seq, event_type))
        # seq 2..11 (5 cells, 5 metric windows) reached Firehose
        store.mark_delivered([row_id for row_id, _ in store.pending(limit=11)][1:])
        size = record_bytes(store)
    # A cap a little under the size: delivered records go first; nothing undelivered is lost.
    with Store(path, max_bytes=size - 2_000) as store:
        store.append(record(100, "cell"))
        assert store.counts()["undelivered"] == 33
        assert store.shipping_status()["evicted"] == {}
        assert record_bytes(store) <= size - 2_000
    # A much smaller cap: every delivered record, then the metric windows, then old cells.
    with Store(path, max_bytes=20_000) as store:
        store.append(record(101, "cell"))
        left = kinds(store)
        assert "metrics" not in left and store.counts()["records"] == store.counts()["undelivered"]
        assert left["session_start"] == 1 and left["session_end"] == 1 and left["cell"] > 0
        assert record_bytes(store) <= 20_000
        evicted = store.shipping_status()["evicted"]
        assert evicted["metrics"] == 15  # the 5 delivered ones were pruned, not evicted
        assert evicted["cell"] == 15 + 2 - left["cell"]
    # A tiny cap: the cells, then the oldest session records, give way too — all counted.
    with Store(path, max_bytes=2_500) as store:
        store.append(record(102, "session_start", session="new"))
        left = kinds(store)
        assert set(left) <= {"session_start", "session_end"} and "cell" not in left
        assert record_bytes(store) <= 2_500
        assert [r["event_id"] for r in store.records()][-1] == "new-102"  # the newest stays
        status = store.shipping_status()
        pruned = 10
        assert sum(status["evicted"].values()) + pruned + status["records"] == 42 + 3


def test_evictions_reach_the_next_session_end_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    identity = Identity.load_or_create(tmp_path / "id.json")
    with Store(path, max_bytes=30_000) as store:
        for seq in range(1, 40):
            store.append(record(seq, "metrics"))
        session = Session("run", store, identity, record_filter=PrivacyFilter("full"))
        session.start()
        end = session.end("completed")
        assert session.close(10) == []
        assert end["records_dropped"]["metrics"] > 0
        dropped = end["records_dropped"]["metrics"]
        assert store.shipping_status()["evicted"]["metrics"] >= dropped
        # reported once: the next session_end only has what was evicted since
        later = Session("run", store, identity, record_filter=PrivacyFilter("full"))
        end = later.end("completed")
        assert later.close(10) == [] and end["records_dropped"] == {}
    # the counts survive the process: they are in the store
    with Store(path) as store:
        assert store.shipping_status()["evicted"]["metrics"] >= dropped


def test_records_being_sent_are_not_evicted(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        for seq in range(1, 21):
            store.append(record(seq, "metrics"))
        claimed = store.claim("host|1|1.0|t", 5, 10**9, lease_s=60)
    with Store(path, max_bytes=8_000) as store:
        store.append(record(50, "cell"))
        ids = {row_id for row_id, _ in store.pending(limit=100)}
        assert {row_id for row_id, _ in claimed} <= ids


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE records (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
            seq INTEGER NOT NULL, event_type TEXT NOT NULL, event_time TEXT NOT NULL,
            bytes INTEGER NOT NULL, body TEXT NOT NULL, delivered_at TEXT);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        """
    )
    body = json.dumps(record(1, "cell"))
    db.execute(
        "INSERT INTO records(session_id, seq, event_type, event_time, bytes, body)"
        " VALUES ('old', 1, 'cell', 't', ?, ?)",
        (len(body), body),
    )
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.meta("schema_")["version"] == "3"
        rows = store.claim("me|1|1.0|t", 10, 10**9, lease_s=60)
        assert [json.loads(b)["event_id"] for _, b in rows] == ["old-1"]
        store.mark_delivered([rows[0][0]])
        assert store.counts() == {"records": 1, "undelivered": 0}


def test_shipping_status_of_a_fresh_store(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.shipping_status() == {
            "records": 0,
            "undelivered": 0,
            "undelivered_bytes": 0,
            "oldest_undelivered_at": None,
            "evicted": {},
            "set_aside": 0,
            "set_aside_reason": None,
            "last_upload": {
                "at": None,
                "ok": None,
                "records": 0,
                "error": None,
                "destination": None,
            },
        }


def test_a_claim_lost_whole_to_another_shipper_takes_the_next_free_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    with Store(path) as store, Store(path) as other:
        for seq in range(1, 11):
            store.append(record(seq, "cell"))
        real_update = store._update_in_chunks
        raced: list[int] = []

        def another_shipper_first(*args: Any) -> None:
            if not raced:  # between our read of the candidates and our write
                raced.extend(i for i, _ in other.claim("other", 5, 10**9, lease_s=60))
            real_update(*args)

        store._update_in_chunks = another_shipper_first  # type: ignore[method-assign]
        mine = [i for i, _ in store.claim("mine", 5, 10**9, lease_s=60)]
        assert len(raced) == 5 and len(mine) == 5  # not an empty claim, taken for "drained"
        assert not set(mine) & set(raced)
        assert store.claim("third", 5, 10**9, lease_s=60) == []  # none is free: empty
