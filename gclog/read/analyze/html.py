"""``gclog analyze --html FILE``: the fleet report, one self-contained page (offline, as
``gclog report --html``: plotly.js is inline).

Per notebook: the funnel (sessions that reached each cell), the failure hotspots (the share of
sessions in which each cell failed, with its top error on hover), and the duration of each cell
(p50 and p90). Only what --min-users left in is drawn.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from gclog.errors import GclogError
from gclog.files import write_atomic


def _figures(nb: dict[str, Any]) -> Any:
    try:
        from plotly.subplots import make_subplots
    except ImportError:
        raise GclogError("gclog analyze --html needs plotly: pip install 'gclog[report]'") from None
    import plotly.graph_objects as go

    cells = nb["cells"]
    labels = [f"cell {c['index']}" for c in cells]
    figure = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "sessions that reached each cell",
            "share of sessions failing",
            "duration (s)",
        ),
        horizontal_spacing=0.08,
    )
    figure.add_trace(
        go.Funnel(
            y=labels,
            x=[c["reached"] for c in cells],
            name="reached",
            textinfo="value+percent initial",
        ),
        row=1,
        col=1,
    )
    tops = [c["errors"][0]["signature"] if c["errors"] else "" for c in cells]
    figure.add_trace(
        go.Bar(
            x=labels,
            y=[c["failure_share"] for c in cells],
            name="failed",
            marker_color="#c62828",
            hovertext=tops,
        ),
        row=1,
        col=2,
    )
    for quantile, colour in (("p50", "#1565c0"), ("p90", "#90caf9")):
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[c["duration_s"][quantile] for c in cells],
                name=f"duration {quantile}",
                marker_color=colour,
            ),
            row=1,
            col=3,
        )
    figure.update_layout(height=460, margin={"l": 40, "r": 20, "t": 60, "b": 40}, showlegend=False)
    return figure


def write(answers: dict[str, Any], path: Path) -> None:
    sections = []
    for n, nb in enumerate(answers["notebooks"]):
        chart = _figures(nb).to_html(
            include_plotlyjs=(n == 0), full_html=False, div_id=f"notebook-{n}"
        )
        memory = nb["rss_peak_bytes"]
        mib = ", ".join(
            f"{q} {memory[q] / 2**20:,.0f} MiB" for q in ("p50", "p95") if memory[q] is not None
        )
        sections.append(
            f"<section class='notebook'><h2>{html.escape(nb['name'] or '(no name)')} "
            f"<small>{html.escape(nb['notebook'])}</small></h2>"
            f"<p>{nb['sessions']} sessions, {nb['users']} users"
            f"{'; peak memory ' + mib if mib else ''}</p>{chart}</section>"
        )
    body = "".join(sections) or (
        f"<p>No notebook has {answers['min_users']} or more users (--min-users).</p>"
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gclog analyze</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}} small{{color:#666}}</style></head>
<body><h1>gclog analyze</h1>
<p>Groups of fewer than {answers["min_users"]} users are not shown.</p>{body}</body></html>
"""
    write_atomic(path, page)
