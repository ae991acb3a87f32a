"""Settings, identity, text helpers, the session envelope and checkpointed notebook saving."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook

from gclog.config import Paths, load_settings
from gclog.errors import GclogError
from gclog.identity import Identity
from gclog.jupyter import notebook as notebooks
from gclog.pipeline.session import Session
from gclog.store.store import Store
from gclog.text import strip_ansi, truncate

# -- settings: flags > GCLOG_* > config file > defaults --


def test_settings_precedence(tmp_path: Path) -> None:
    paths = Paths(state_dir=tmp_path, config_dir=tmp_path)
    (tmp_path / "config.toml").write_text('privacy = "full"\ntimeout = 30\n')
    assert load_settings({}, env={}, paths=paths).privacy == "full"
    from_env = load_settings({}, env={"GCLOG_PRIVACY": "metadata"}, paths=paths)
    assert from_env.privacy == "metadata" and from_env.timeout == 30
    assert from_env.origin_of("privacy") == "environment GCLOG_PRIVACY"
    from_flag = load_settings(
        {"privacy": "redacted"}, env={"GCLOG_PRIVACY": "metadata"}, paths=paths
    )
    assert from_flag.privacy == "redacted" and from_flag.origin_of("privacy") == "flag --privacy"
    assert (
        load_settings({}, env={}, paths=Paths(tmp_path / "x", tmp_path / "x")).privacy == "redacted"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("privacy = 'everything'", "expected one of"),
        ("colour = 'blue'", "unknown setting 'colour'"),
        ("privacy = [", "config file"),
        ("timeout = -3", "at least 0.1"),
    ],
)
def test_bad_config_files_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(content)
    with pytest.raises(GclogError, match=message) as info:
        load_settings({}, env={}, paths=Paths(tmp_path, tmp_path))
    assert "config.toml" in str(info.value)


def test_gclog_home_relocates_everything_and_gclog_config_names_a_file(tmp_path: Path) -> None:
    paths = Paths.from_env({"GCLOG_HOME": str(tmp_path)})
    assert paths.store.parent == tmp_path and paths.identity.parent == tmp_path
    custom = tmp_path / "elsewhere.toml"
    assert paths.config_file({"GCLOG_CONFIG": str(custom)}) == custom
    default = Paths.from_env({})
    assert "gclog" in str(default.store) and "gclog" in str(default.identity)


# -- identity --


def test_identity_is_private_stable_and_keyed(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "identity.json"
    first = Identity.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load_or_create(path) == first
    assert first.keyed_hash("/a/notebook.ipynb") == first.keyed_hash("/a/notebook.ipynb")
    other = Identity.load_or_create(tmp_path / "other" / "identity.json")
    assert other.install_id != first.install_id
    assert other.keyed_hash("/a/notebook.ipynb") != first.keyed_hash("/a/notebook.ipynb")


def _load(path: str, queue: Any) -> None:
    queue.put(Identity.load_or_create(Path(path)).install_id)


def test_processes_racing_to_create_the_identity_agree(tmp_path: Path) -> None:
    path = tmp_path / "identity.json"
    queue: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_load, args=(str(path), queue)) for _ in range(6)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    assert len({queue.get() for _ in procs}) == 1


def test_a_damaged_identity_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "identity.json"
    path.write_text("{garbage")
    with pytest.raises(GclogError, match="damaged"):
        Identity.load_or_create(path)


# -- text helpers --


@given(st.text(), st.integers(min_value=0, max_value=5000))
def test_truncate_never_exceeds_the_cap_and_is_idempotent(text: str, cap: int) -> None:
    once = truncate(text, cap)
    assert len(once) <= cap
    assert truncate(once, cap) == once
    if len(text) <= cap:
        assert once == text


def test_truncate_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    text = "HEAD" + "-" * 10_000 + "TAIL"
    cut = truncate(text, 200)
    assert cut.startswith("HEAD") and cut.endswith("TAIL") and len(cut) == 200
    kept = len(cut) - len(cut[cut.index("\n…[") : cut.index("]…\n") + 3])
    assert f"[gclog: {len(text) - kept} characters cut]" in cut


@given(st.text())
def test_strip_ansi_never_raises_and_leaves_no_escape_sequences_it_knows(text: str) -> None:
    stripped = strip_ansi(text + "\x1b[31mred\x1b[0m")
    assert "\x1b[31m" not in stripped and stripped.endswith("red")


# -- the session envelope --


def test_session_envelope_and_retry_when_the_store_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(tmp_path / "s.db")
    identity = Identity.load_or_create(tmp_path / "identity.json")
    real_append = store.append_many
    refusing = threading.Event()
    refusing.set()

    def flaky(records: list[dict[str, Any]]) -> list[int]:
        if refusing.is_set():
            raise sqlite3.OperationalError("database or disk is full")
        return real_append(records)

    monkeypatch.setattr(store, "append_many", flaky)
    session = Session("run", store, identity, notebook_path=tmp_path / "n.ipynb")
    session.start(kernel={}, notebook={}, host={}, privacy="redacted")
    session.cell({"status": "ok"})  # refused: kept in memory
    session.cell({"status": "error"})  # refused again: all kept
    assert not session.flush(0.3) and session.unstored == 3
    refusing.clear()  # the store works again: all four committed, in order
    session.end("cell_error")
    assert session.close(10) == []
    assert "keeping them in memory" in capsys.readouterr().err
    records = list(store.records(session.id))
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert records[0]["notebook_id"] == identity.keyed_hash(str((tmp_path / "n.ipynb").resolve()))
    assert {r["user_id"] for r in records} == {identity.install_id}
    assert records[-1]["cells"]["error"] == 1 and records[-1]["time_to_first_error_s"] > 0


def test_a_full_buffer_loses_new_records_counted_but_keeps_the_session_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "s.db")
    identity = Identity.load_or_create(tmp_path / "identity.json")
    real_append = store.append_many
    refusing = threading.Event()
    refusing.set()

    def flaky(records: list[dict[str, Any]]) -> list[int]:
        if refusing.is_set():
            raise sqlite3.OperationalError("database or disk is full")
        return real_append(records)

    monkeypatch.setattr(store, "append_many", flaky)
    session = Session("run", store, identity, capacity=5)
    session.start()
    for _ in range(6):
        session.cell({"status": "ok"})
    session.emit("metrics", {})
    assert session.lost == {"cell": 2, "metrics": 1}
    refusing.clear()
    end = session.end("completed")  # kept although the buffer is full
    assert session.close(10) == []
    stored = list(store.records(session.id))
    assert [r["seq"] for r in stored] == [1, 2, 3, 4, 5, 9]  # the lost ones leave a gap
    assert stored[-1]["records_dropped"] == {"cell": 2, "metrics": 1} == end["records_dropped"]


# -- checkpointed saving --


def test_checkpoints_are_throttled_so_saving_stays_linear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = new_notebook(cells=[new_code_cell(f"x = {i}") for i in range(200)])
    writer = notebooks.CheckpointWriter(nb, tmp_path / "out.ipynb", min_interval=2.0)
    clock = {"now": 0.0}
    monkeypatch.setattr(notebooks.time, "monotonic", lambda: clock["now"])
    writer._last_end = 0.0
    for _ in range(200):  # 200 cells of 50 ms each: a 10 s run
        clock["now"] += 0.05
        writer.maybe_save()
    assert 4 <= writer.saves <= 5  # about every 2 s, not every cell
    assert json.loads((tmp_path / "out.ipynb").read_text())["nbformat"] == 4


def test_a_slow_save_backs_off_further(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = new_notebook(cells=[new_code_cell("1")])
    writer = notebooks.CheckpointWriter(
        nb, tmp_path / "out.ipynb", min_interval=1.0, max_share=0.05
    )
    writer._last_cost = 0.5  # a save took 0.5 s: wait at least 10 s before the next
    writer._last_end = 0.0
    monkeypatch.setattr(notebooks.time, "monotonic", lambda: 9.0)
    assert writer.maybe_save() is False
    monkeypatch.setattr(notebooks.time, "monotonic", lambda: 10.5)
    assert writer.maybe_save() is True
