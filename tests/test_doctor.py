"""`gclog doctor`: a damaged store is set aside, keeping every record that can still be read."""

from __future__ import annotations

from pathlib import Path

from helpers import Env, one_line_error, write_notebook
from test_shipping import record

from gclog.errors import ExitCode
from gclog.store.doctor import examine
from gclog.store.store import Store


def test_a_store_that_is_not_a_database_is_set_aside_and_runs_go_on(env: Env) -> None:
    env.home.mkdir(parents=True)
    garbage = b"this is no database " * 500
    env.store.write_bytes(garbage)
    nb = write_notebook(env.root / "a.ipynb", "print(1)")
    refused = env.gclog("run", str(nb))
    assert refused.returncode == ExitCode.BAD_INPUT  # before: every run, until deleted by hand
    assert "gclog doctor" in one_line_error(refused.stderr)
    check = env.gclog("doctor", "--check")
    assert check.returncode == ExitCode.BAD_INPUT and env.store.read_bytes() == garbage
    fixed = env.gclog("doctor")
    assert fixed.returncode == 0, fixed.stderr
    assert "moved to" in fixed.stderr
    kept = list(env.home.glob("store.damaged-*.sqlite3"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage  # nothing deleted
    again = env.gclog("run", str(nb))
    assert again.returncode == 0, again.stderr
    assert "healthy" in env.gclog("doctor").stderr


def test_a_damaged_page_loses_only_the_records_on_it(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with Store(path) as store:
        for seq in range(1, 401):
            store.append(record(seq, code="x" * 1000))
        store.mark_delivered(range(1, 101))
        store.set_aside([400], "Firehose refused the call (InvalidArgumentException)")
    with open(path, "r+b") as handle:  # a disk fault: one page in the middle is garbage
        handle.seek(4096 * 60)
        handle.write(b"\xde\xad\xbe\xef" * 1024)
    diagnosis = examine(path, tmp_path)
    assert diagnosis.problem is not None and diagnosis.damaged_copy is not None
    assert diagnosis.damaged_copy.exists()
    with Store(path) as store:
        salvaged = list(store.records())
        assert len(salvaged) == diagnosis.salvaged
        assert 350 <= len(salvaged) < 399  # a page holds ~3 records; the rest are all there
        assert store.counts()["undelivered"] == len(salvaged) - sum(
            1 for r in salvaged if r["seq"] <= 100
        )  # delivered ones stay delivered
        assert [a["seq"] for a in store.set_aside_records()] == [400]
    assert examine(path, tmp_path).problem is None
