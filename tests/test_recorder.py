"""The recorder under failure: a store that refuses to the end, a privacy filter that breaks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gclog.config import Paths, load_settings
from gclog.observe.observer import Execution
from gclog.pipeline.recorder import Recorder
from gclog.store.store import Store


def recorder(tmp_path: Path) -> Recorder:
    paths = Paths(state_dir=tmp_path, config_dir=tmp_path)
    settings = load_settings({"metrics": "none", "flush_timeout": 0.5}, env={}, paths=paths)
    return Recorder("run", settings, paths)


def test_records_the_store_never_takes_are_saved_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = recorder(tmp_path)
    rec.start("python3", {}, {"name": "n.ipynb", "code_cells": 1})
    assert rec.session.flush(10)

    def refuse(records: list[dict[str, Any]]) -> list[int]:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(rec.store, "append_many", refuse)
    execution = Execution(msg_id="m1", code="print(1)")
    rec.cell_finished(execution.msg_id, execution.cell_fields(), execution.outputs)
    rec.end("completed")
    rec.close()
    saved = tmp_path / f"unstored-{rec.session.id}.ndjson"
    kinds = [json.loads(line)["event_type"] for line in saved.read_text().splitlines()]
    assert kinds == ["cell", "session_end"]  # session_start was stored before
    assert "the store refused 2 records (database or disk is full); they are saved in" in (
        capsys.readouterr().err
    )
    assert rec.lost == 0
    # the next session with a working store takes them back, and the file goes
    later = recorder(tmp_path)
    later.start("python3", {}, {"name": "n.ipynb", "code_cells": 1})
    later.end("completed")
    later.close()
    assert not saved.exists()
    with Store(tmp_path / "store.sqlite3") as store:
        assert len(list(store.records(rec.session.id))) == 3


def test_a_failing_privacy_filter_keeps_the_session_going(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = recorder(tmp_path)
    rec.start("python3", {}, {"name": "n.ipynb", "code_cells": 1})

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in a scrubbing rule")

    monkeypatch.setattr(rec.privacy, "apply", broken)
    execution = Execution(msg_id="m1", code="token = 'hf_secret'", idle=True, saw_input=True)
    record = rec.cell_finished(execution.msg_id, execution.cell_fields(), execution.outputs)
    rec.end("completed")
    rec.close()
    assert record["privacy_filter_error"] == "RuntimeError"
    assert record["status"] == "ok" and "code" not in record
