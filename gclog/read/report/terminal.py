"""The terminal report: what a session did, in one screen."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gclog.read.report.view import SessionView
from gclog.text import cell_label, first_line


def human_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    value = abs(float(value))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    return f"{sign}{value:.1f} TiB"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s" if value < 10 else f"{value:.1f}s"


def _resources(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("resources") or {}


def render(view: SessionView, console: Console, top: int = 10) -> None:
    start, end = view.start or {}, view.end or {}
    notebook = (start.get("notebook") or {}).get("name") or "-"
    kernel = (start.get("kernel") or {}).get("name") or "-"
    console.print(
        f"[bold]Session {view.session_id}[/] ({start.get('source', '?')}) — notebook "
        f"{escape(notebook)}, kernel {escape(kernel)}",
        soft_wrap=True,
    )
    began = view.first_time
    ended = end.get("reason", "still running (or ended without a session_end)")
    duration = f", {end['duration_s']:.1f}s" if end.get("duration_s") is not None else ""
    console.print(
        f"started {began:%Y-%m-%d %H:%M:%S} UTC{duration}; ended: {ended}; "
        f"privacy {start.get('privacy', '?')}"
        if began
        else f"ended: {ended}"
    )

    counts: dict[str, int] = {}
    for cell in view.cells:
        counts[cell["status"]] = counts.get(cell["status"], 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items()) or "none"
    first_error = end.get("time_to_first_error_s")
    console.print(
        f"Cells: {len(view.cells)} ({parts})"
        + (f"; first error {first_error:.1f}s into the session" if first_error else "")
    )

    if view.cells:
        table = Table(
            title=f"Slowest cells (top {min(top, len(view.cells))})", title_justify="left"
        )
        for column in (
            "cell",
            escape("[n]"),
            "status",
            "duration",
            "CPU",
            "peak RSS",
            "RSS growth",
            "code",
        ):
            table.add_column(column, overflow="fold")
        slowest = sorted(view.cells, key=lambda c: c.get("duration_s") or 0.0, reverse=True)
        for cell in slowest[:top]:
            used = _resources(cell)
            style = {"error": "red", "interrupted": "yellow", "aborted": "dim"}.get(
                cell["status"], ""
            )
            table.add_row(
                cell_label(cell.get("index")),
                str(cell.get("execution_count") or "-"),
                f"[{style}]{cell['status']}[/]" if style else cell["status"],
                _seconds(cell.get("duration_s")),
                _seconds(used.get("cpu_seconds")),
                human_bytes(used.get("rss_peak_bytes")),
                human_bytes(used.get("rss_growth_bytes")),
                escape(first_line(cell.get("code"), 50)),
            )
        console.print(table)

    errors = view.errors()
    if errors:
        console.print("[bold]Errors[/]")
        for cell in errors:
            error = cell.get("error") or {}
            console.print(
                f"  {cell_label(cell.get('index'))} [{cell.get('execution_count') or '-'}] "
                f"[red]{escape(error.get('ename', cell['status']))}[/]: "
                f"{escape(first_line(error.get('evalue'), 80))}",
                soft_wrap=True,
            )

    _peaks(view, console)
    _accelerators(view, console)
    for event in view.kernel_events:
        console.print(f"Kernel {event['event']} at {event['event_time']}")
    total = view.delivered + view.undelivered
    kept = (
        f"; {view.undelivered} kept in the store only (`gclog flush` ships them to a stream)"
        if view.undelivered
        else ""
    )
    console.print(f"Upload: {view.delivered} of {total} records shipped to Firehose{kept}")


def _peaks(view: SessionView, console: Console) -> None:
    measured = [c for c in view.cells if _resources(c)]
    if not measured:
        return
    hungriest = max(measured, key=lambda c: _resources(c).get("rss_peak_bytes") or 0)
    busiest = max(measured, key=lambda c: _resources(c).get("cpu_seconds") or 0.0)
    console.print(
        f"Peaks: memory {human_bytes(_resources(hungriest).get('rss_peak_bytes'))} in "
        f"{cell_label(hungriest.get('index'))}; CPU "
        f"{_seconds(_resources(busiest).get('cpu_seconds'))} in {cell_label(busiest.get('index'))}"
    )


def _accelerators(view: SessionView, console: Console) -> None:
    fields = view.accelerator_fields()
    if fields:
        for name in fields:
            _, means = view.series(name, "mean")
            _, peaks = view.series(name, "max")
            if means:
                console.print(
                    f"Accelerator {name}: mean {sum(means) / len(means):.1f}, max {max(peaks or means):.1f}"
                )
        return
    sources = ((view.start or {}).get("metrics") or {}).get("sources") or {}
    off = [
        f"{n}: {s.get('reason')}"
        for n, s in sources.items()
        if n in ("ipu", "nvidia") and not s.get("on")
    ]
    if off:
        console.print(f"Accelerators: none measured ({escape('; '.join(off))})", soft_wrap=True)
