"""Records of a made-up fleet, built as gclog's Recorder builds them (envelope and cell fields),
for the analyze tests that need many sessions without running as many kernels."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from gclog.records import iso

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@dataclass
class Run:
    """One execution: a cell of the notebook (its index) or None for a cell the person added."""

    index: int | None
    status: str = "ok"
    duration_s: float | None = 0.5
    edited: bool = False
    error: tuple[str, str | None] | None = None  # (ename, evalue)
    rss_peak: int | None = None
    wait_s: float = 1.0


@dataclass
class Sess:
    user: str
    notebook: str
    runs: list[Run] = field(default_factory=list)
    end: str | None = "completed"  # None: no session_end (a lost or open session)
    name: str | None = "tutorial.ipynb"
    facets: dict[str, str] = field(
        default_factory=lambda: {"kernel": "python3", "accelerator": "none", "frameworks": "none"}
    )


def cell_key(notebook: str, index: int) -> str:
    return f"{notebook}-c{index}"


def records_of(session: Sess, session_id: str | None = None) -> list[dict[str, Any]]:
    sid = session_id or str(uuid.uuid4())
    out: list[dict[str, Any]] = []
    clock = T0 + timedelta(hours=hash(sid) % 1000)

    def emit(event_type: str, **fields: Any) -> dict[str, Any]:
        record = {
            "schema": "gclog/1",
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "event_time": iso(clock),
            "session_id": sid,
            "seq": len(out) + 1,
            "source": "run",
            "user_id": session.user,
            "notebook_id": session.notebook,
            "gclog_version": "0.1.0",
            **fields,
        }
        out.append(record)
        return record

    emit(
        "session_start",
        notebook={"name": session.name, "code_cells": 5, "visit": 1},
        facets=session.facets,
    )
    for run in session.runs:
        started = clock + timedelta(seconds=run.wait_s)
        ended = started + timedelta(seconds=run.duration_s or 0)
        clock = ended
        fields: dict[str, Any] = {
            "cell_key": cell_key(session.notebook, run.index) if run.index is not None else "mine",
            "cell_index": run.index,
            "cell_match": "added"
            if run.index is None
            else ("edited" if run.edited else "distributed"),
            "status": run.status,
            "duration_s": run.duration_s,
            "times": {"queued_at": None, "started_at": iso(started), "ended_at": iso(ended)},
        }
        if run.error is not None:
            fields["error"] = {"ename": run.error[0], "evalue": run.error[1], "traceback": None}
        if run.rss_peak is not None:
            fields["resources"] = {"rss_peak_bytes": run.rss_peak}
        emit("cell", **fields)
    if session.end is not None:
        emit("session_end", reason=session.end)
    return out
