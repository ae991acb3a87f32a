"""A session's records, gathered once and shaped for reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gclog.records import parse_iso
from gclog.store.store import Store

# Curves a report draws from metric windows, by field name; accelerators are found by pattern.
CPU_FIELDS = {"system.cpu_percent": "machine CPU %", "process.cpu_percent": "kernel CPU %"}
MEMORY_FIELDS = {
    "process.rss_bytes": "kernel RSS",
    "system.memory_used_bytes": "machine memory used",
}
ACCELERATOR = re.compile(r"^(ipu|nvidia)\.(.+)\.(utili[sz]ation_percent|power_w)$")


@dataclass
class SessionView:
    session_id: str
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    cells: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    kernel_events: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0
    undelivered: int = 0

    @property
    def first_time(self) -> datetime | None:
        times = [parse_iso(r["event_time"]) for r in (self.start, *self.cells) if r]
        started = [parse_iso(c["times"]["started_at"]) for c in self.cells]
        found = [t for t in times + started if t is not None]
        return min(found) if found else None

    def errors(self) -> list[dict[str, Any]]:
        return [c for c in self.cells if c["status"] in ("error", "interrupted")]

    def series(self, name: str, statistic: str = "mean") -> tuple[list[datetime], list[float]]:
        """A metric field over the session: each window as a step from its start to its end."""
        xs, ys = [], []
        for record in self.metrics:
            value = (record.get("values") or {}).get(name, {}).get(statistic)
            window = record.get("window") or {}
            start, end = parse_iso(window.get("start")), parse_iso(window.get("end"))
            if value is None or end is None:
                continue
            for when in (start, end) if start is not None and start < end else (end,):
                xs.append(when)
                ys.append(float(value))
        return xs, ys

    def span(self) -> tuple[datetime, datetime] | None:
        """From the first to the last moment anything was seen: cells and metric windows."""
        moments = [
            moment
            for cell in self.cells
            for moment in (
                parse_iso(cell["times"]["started_at"]),
                parse_iso(cell["times"]["ended_at"]),
            )
        ] + [
            parse_iso((record.get("window") or {}).get(edge))
            for record in self.metrics
            for edge in ("start", "end")
        ]
        found = [m for m in moments if m is not None]
        return (min(found), max(found)) if found else None

    def accelerator_fields(self) -> list[str]:
        names = {n for r in self.metrics for n in (r.get("values") or {}) if ACCELERATOR.match(n)}
        return sorted(names)


def load(store: Store, session_id: str) -> SessionView:
    view = SessionView(session_id=session_id)
    for record in store.records(session_id):
        kind = record["event_type"]
        if kind == "session_start":
            view.start = record
        elif kind == "session_end":
            view.end = record
        elif kind == "cell":
            view.cells.append(record)
        elif kind == "metrics":
            view.metrics.append(record)
        elif kind == "kernel":
            view.kernel_events.append(record)
    view.delivered, view.undelivered = store.delivery_counts(session_id)
    return view
