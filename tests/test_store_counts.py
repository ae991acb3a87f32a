"""`gclog status`'s counts come from indexes: their cost does not grow with every record stored."""

from __future__ import annotations

from pathlib import Path

from gclog.store.store import (
    BACKLOG_BYTES,
    COUNT_ALL,
    COUNT_UNDELIVERED,
    OLDEST_UNDELIVERED,
    Store,
)


def _fill(store: Store, count: int) -> list[int]:
    return store.append_many(
        [
            {
                "schema": "gclog/1",
                "event_id": f"e{i}",
                "event_type": "cell",
                "event_time": f"2026-12-01T00:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
                "session_id": "s",
                "seq": i,
                "code": "x" * (100 + i),
            }
            for i in range(count)
        ]
    )


def test_counts_and_backlog_are_right(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        ids = _fill(store, 50)
        store.mark_delivered(ids[:20])
        assert store.counts() == {"records": 50, "undelivered": 30}
        status = store.shipping_status()
        assert status["undelivered"] == 30
        sizes = [row[0] for row in store._query("SELECT bytes FROM records ORDER BY id")]
        assert status["undelivered_bytes"] == sum(sizes[20:])
        assert status["oldest_undelivered_at"] == "2026-12-01T00:00:20.000000Z"
        store.mark_delivered(ids[20:])
        status = store.shipping_status()
        assert (status["undelivered_bytes"], status["oldest_undelivered_at"]) == (0, None)


def test_no_count_reads_the_records_themselves(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        _fill(store, 10)
        for query in (COUNT_ALL, COUNT_UNDELIVERED, BACKLOG_BYTES, OLDEST_UNDELIVERED):
            plan = " ".join(row[-1] for row in store._query(f"EXPLAIN QUERY PLAN {query}"))
            assert "USING" in plan and "INDEX" in plan, (query, plan)
        (first,) = store._query(f"EXPLAIN QUERY PLAN {BACKLOG_BYTES}")
        assert "COVERING INDEX" in first[-1] or "records_undelivered_bytes" in first[-1]
