"""`--debug` shows gclog's own log; every warning goes one way (the live view while it shows)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from firehose_helpers import FirehoseWorld
from helpers import Env

from gclog.identity import Identity
from gclog.pipeline.session import Session
from gclog.store.store import Store
from gclog.warn import routed, warn


def test_debug_shows_the_traceback_of_a_failed_shipper_cycle(
    env: Env, firehose: FirehoseWorld
) -> None:
    def flush(*debug: str) -> str:
        with Store(env.store) as store:
            store.append({"session_id": "s", "seq": 1, "event_type": "cell", "event_time": "t"})
        flags = (*firehose.flags(), "--timeout", "3")
        return env.gclog(*debug, "flush", *flags, **firehose.aws_env).stderr

    Store(env.store).close()
    with sqlite3.connect(env.store) as db:  # a broken store: noting the outcome fails
        db.execute(
            "CREATE TRIGGER no_meta BEFORE INSERT ON meta "
            "BEGIN SELECT RAISE(ABORT, 'meta is read-only'); END"
        )
    quiet = flush()
    assert "Traceback" not in quiet and "gclog: debug:" not in quiet
    loud = flush("--debug")
    assert "gclog: debug: gclog.ship.shipper: shipper cycle failed" in loud, loud
    assert "Traceback (most recent call last)" in loud and "meta is read-only" in loud


def test_a_store_warning_goes_through_the_live_view_not_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(tmp_path / "store.sqlite3")
    store.close()  # it refuses every record now
    session = Session("run", store, Identity.load_or_create(tmp_path / "id"), record_filter=dict)
    seen: list[str] = []
    with routed(seen.append):
        session.emit("cell", {"status": "ok"})
        # the writer thread says it, once, while the view shows
        assert not session.flush(2.0)
    assert capsys.readouterr().err == ""
    assert len(seen) == 1 and seen[0].startswith("the store cannot take records right now")
    assert session.close(0) != []  # kept, to retry (not lost)


def test_without_a_view_a_warning_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    warn("something to know")
    assert capsys.readouterr().err == "gclog: warning: something to know\n"
