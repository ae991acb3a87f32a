"""A full disk, for real (a 2 MiB tmpfs), and a capped store's use of the disk, WAL included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Env, mount_tmpfs, unmount, write_notebook

from gclog.errors import ExitCode
from gclog.store.store import Store


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB file system (tmpfs; we run as root), or skip saying why."""
    where = tmp_path / "small-disk"
    why_not = mount_tmpfs(where, "size=2m")
    if why_not is not None:
        pytest.skip(f"cannot mount a 2 MiB tmpfs here: {why_not}")
    yield where
    unmount(where)


def test_a_full_disk_says_how_many_records_were_lost_and_exits_non_zero(
    env: Env, small_disk: Path
) -> None:
    # Before: 58 records stored, 344 lost, exit 0 and "completed".
    nb = write_notebook(env.root / "a.ipynb", *[f"print('x' * 3000, {i})" for i in range(400)])
    result = env.gclog(
        "run",
        str(nb),
        "-o",
        str(env.root / "out.ipynb"),
        timeout=180,
        GCLOG_HOME=str(small_disk),
        GCLOG_FLUSH_TIMEOUT="1",
        GCLOG_METRICS="none",
    )
    assert result.returncode == ExitCode.RECORDS_LOST, result.stderr
    assert "Traceback" not in result.stderr
    lost = int(re.search(r"— (\d+) records lost", result.stderr).group(1))  # type: ignore[union-attr]
    assert lost > 0
    assert (env.root / "out.ipynb").exists()  # the person's notebook is written all the same
    with Store(small_disk / "store.sqlite3") as store:
        records: list[dict[str, Any]] = list(store.records())
    # What is stored and what is counted lost make up every record the session made.
    end = [r for r in records if r["event_type"] == "session_end"]
    assert end, "the session_end (with the counts) got in through the reserve"
    assert sum(end[0]["records_dropped"].values()) == lost
    assert len(records) + lost == end[0]["seq"] == 402
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)


def test_a_capped_store_keeps_its_files_near_the_cap(tmp_path: Path) -> None:
    # Before: under a 1 MiB cap the store peaked at 5.1 MiB on disk (the write-ahead log).
    cap = 2**20
    peak = 0
    with Store(tmp_path / "s.db", max_bytes=cap) as store:
        for seq in range(1, 4001):
            kind = "metrics" if seq % 3 else "cell"
            store.append(
                {
                    "event_id": f"e{seq}",
                    "event_type": kind,
                    "event_time": "2026-12-01T00:00:00.000000Z",
                    "session_id": "s",
                    "seq": seq,
                    "payload": "y" * 1500,
                }
            )
            peak = max(peak, store.disk_bytes())
        assert store.counts()["records"] > 200  # it evicts what it must, not everything
    assert peak <= cap * 1.25, f"peaked at {peak / 2**20:.2f} MiB under a 1 MiB cap"
