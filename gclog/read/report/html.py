"""The HTML report: one self-contained file with the session's timeline.

Plotly draws it: a well-kept library whose figures carry their own JavaScript, so
``include_plotlyjs=True`` makes a page that opens with no network, and hover labels come free.
The cells are bars on a time axis, coloured by status, above the CPU, memory and accelerator
curves of the same session.
"""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path
from typing import Any

from gclog.errors import GclogError
from gclog.files import write_atomic
from gclog.read.report.terminal import human_bytes
from gclog.read.report.view import CPU_FIELDS, MEMORY_FIELDS, SessionView
from gclog.records import parse_iso
from gclog.text import cell_label, first_line

COLOURS = {"ok": "#2e7d32", "error": "#c62828", "interrupted": "#ef6c00", "aborted": "#9e9e9e"}


def _figure(view: SessionView) -> Any:
    try:
        from plotly.subplots import make_subplots
    except ImportError:
        raise GclogError("gclog report --html needs plotly: pip install 'gclog[report]'") from None
    import plotly.graph_objects as go

    accelerators = view.accelerator_fields()
    panels = ["cells", "CPU %", "memory"] + (["accelerators"] if accelerators else [])
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.28] + [0.72 / (len(panels) - 1)] * (len(panels) - 1),
        subplot_titles=panels,
    )
    for status, colour in COLOURS.items():
        cells = [
            c for c in view.cells if c["status"] == status and parse_iso(c["times"]["started_at"])
        ]
        if not cells:
            continue
        starts = [parse_iso(c["times"]["started_at"]) for c in cells]
        durations = [max((c.get("duration_s") or 0.0) * 1000, 1.0) for c in cells]
        figure.add_trace(
            go.Bar(
                orientation="h",
                y=["cells"] * len(cells),
                base=starts,
                x=durations,
                marker_color=colour,
                name=status,
                text=[cell_label(c.get("index")) for c in cells],
                textposition="inside",
                insidetextanchor="middle",
                textangle=0,
                hovertext=[_hover(c) for c in cells],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    for name, label in CPU_FIELDS.items():
        xs, ys = view.series(name)
        if xs:
            figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label), row=2, col=1)
    for name, label in MEMORY_FIELDS.items():
        xs, ys = view.series(name, "max")
        if xs:
            figure.add_trace(
                go.Scatter(x=xs, y=[y / 2**30 for y in ys], mode="lines", name=f"{label} (GiB)"),
                row=3,
                col=1,
            )
    for name in accelerators:
        xs, ys = view.series(name)
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name), row=4, col=1)
    figure.update_yaxes(title_text="CPU %", rangemode="tozero", row=2, col=1)
    figure.update_yaxes(title_text="GiB (peak)", rangemode="tozero", row=3, col=1)
    figure.update_layout(
        uniformtext={"minsize": 9, "mode": "hide"},  # no label squeezed into a thin bar
        barmode="overlay",
        height=260 + 200 * (len(panels) - 1),
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.08},
    )
    figure.update_xaxes(type="date")
    return figure


def _hover(cell: dict[str, Any]) -> str:
    used = cell.get("resources") or {}
    lines = [
        f"<b>{cell_label(cell.get('index'))}</b> [{cell.get('execution_count') or '-'}] {cell['status']}",
        f"duration {cell.get('duration_s') or 0:.3f}s",
        html.escape(first_line(cell.get("code"), 70)),
    ]
    if used:
        lines.append(
            f"CPU {used.get('cpu_seconds') or 0:.2f}s, peak RSS {human_bytes(used.get('rss_peak_bytes'))}"
        )
    if cell.get("error"):
        lines.append(
            html.escape(f"{cell['error']['ename']}: {first_line(cell['error']['evalue'], 60)}")
        )
    return "<br>".join(lines)


def _summary(view: SessionView) -> str:
    start, end = view.start or {}, view.end or {}
    began = view.first_time
    rows = {
        "session": view.session_id,
        "source": start.get("source", "?"),
        "notebook": (start.get("notebook") or {}).get("name") or "-",
        "kernel": (start.get("kernel") or {}).get("name") or "-",
        "started (UTC)": f"{began:%Y-%m-%d %H:%M:%S}" if began else "-",
        "ended": end.get("reason", "not recorded"),
        "cells": ", ".join(f"{n} {s}" for s, n in sorted(_counts(view).items())) or "none",
        "records shipped": f"{view.delivered} of {view.delivered + view.undelivered}",
    }
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items()
    )
    return f"<table class='summary'>{cells}</table>"


def _counts(view: SessionView) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cell in view.cells:
        counts[cell["status"]] = counts.get(cell["status"], 0) + 1
    return counts


def write(view: SessionView, path: Path) -> None:
    figure = _figure(view)
    span = view.span()
    if span is not None:  # a little room on both sides of the first and last thing seen
        first, last = span
        pad = max((last - first) * 0.02, timedelta(milliseconds=50))
        figure.update_xaxes(range=[first - pad, last + pad])
    chart = figure.to_html(include_plotlyjs=True, full_html=False, div_id="timeline")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>gclog report — {html.escape(view.session_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table.summary th {{ text-align: left; padding-right: 1em; font-weight: 600; }}
</style></head>
<body>
<h1>gclog report</h1>
{_summary(view)}
{chart}
</body></html>
"""
    write_atomic(path, page)
