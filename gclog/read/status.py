"""``gclog status``: live sessions, the store's backlog, and kernels that nobody observes."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gclog.config import Paths
from gclog.jupyter.connect import kernel_id_of, kernel_processes, running_connection_files
from gclog.store.live import LiveSession, LiveSessions
from gclog.store.store import Store


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def gather(paths: Paths) -> dict[str, Any]:
    live, dead = LiveSessions(paths).live_and_dead()
    observed = {os.path.realpath(e.connection_file) for e in live if e.connection_file}
    kernels = []
    files = running_connection_files()
    serving = kernel_processes(files)
    for path in files:
        process = serving.get(path)
        if process is None or os.path.realpath(path) in observed:
            continue
        kernel_id = kernel_id_of(path)
        kernels.append(
            {
                "kernel_id": kernel_id,
                "connection_file": str(path),
                "pid": process.pid,
                "attach": f"gclog attach {kernel_id or path}",
            }
        )
    store: dict[str, Any] = {"path": str(paths.store), "exists": paths.store.exists()}
    if paths.store.exists():
        with Store(paths.store) as opened:
            store.update(opened.shipping_status())
    now = time.time()
    return {
        "sessions": [{**asdict(e), "alive": True, "uptime_s": now - e.started_at} for e in live],
        "dead_sessions": [{**asdict(e), "alive": False} for e in dead],
        "store": store,
        "unobserved_kernels": kernels,
    }


def show(paths: Paths, console: Console, as_json: bool) -> int:
    state = gather(paths)
    if as_json:
        print(json.dumps(state, indent=1))
        return 0
    now = time.time()
    sessions = state["sessions"]
    if sessions:
        table = Table(title="Live sessions", title_justify="left")
        for column in (
            "session",
            "source",
            "kernel",
            "notebook",
            "pid",
            "uptime",
            "cells",
            "errors",
            "last event",
            "metrics",
        ):
            table.add_column(column)
        for s in sessions:
            entry = LiveSession(**{k: v for k, v in s.items() if k not in ("alive", "uptime_s")})
            table.add_row(
                entry.session_id[:8],
                entry.source,
                escape(_kernel_label(entry)),
                escape(Path(entry.notebook).name) if entry.notebook else "-",
                str(entry.pid),
                _ago(now - entry.started_at),
                str(entry.cells),
                f"[red]{entry.errors}[/]" if entry.errors else "0",
                f"{entry.last_event or '-'} {_ago(now - entry.last_event_at) + ' ago' if entry.last_event_at else ''}",
                _sources(entry.metric_sources),
            )
        console.print(table)
    else:
        console.print("No live gclog sessions.")
    for s in state["dead_sessions"]:
        console.print(
            f"[yellow]dead[/] session {s['session_id'][:8]} ({s['source']}, pid {s['pid']}) "
            "ended without cleaning up; its records are in the store. Removed from the list."
        )
    store = state["store"]
    if store.get("exists"):
        console.print(
            f"Store: {store['records']} records, {store['undelivered']} not yet uploaded "
            f"({escape(store['path'])})",
            soft_wrap=True,
        )
        last = store["last_upload"]
        if last["at"]:
            outcome = (
                f"ok, {last['records']} records"
                if last["ok"]
                else f"[red]failed[/]: {escape(last['error'] or '?')}"
            )
            console.print(
                f"Last upload: {last['at']} to {escape(last['destination'] or '?')}: {outcome}",
                soft_wrap=True,
            )
        else:
            console.print("Last upload: none yet (the sink is local unless --sink firehose)")
        if store.get("set_aside"):
            console.print(
                f"[yellow]Set aside:[/] {store['set_aside']} records Firehose refused "
                f"({escape(store['set_aside_reason'] or '?')}); `gclog doctor` lists them",
                soft_wrap=True,
            )
        if store["evicted"]:
            dropped = ", ".join(f"{n} {kind}" for kind, n in sorted(store["evicted"].items()))
            console.print(f"[yellow]Evicted from the full store before delivery:[/] {dropped}")
    else:
        console.print(f"Store: empty ({escape(store['path'])} not created yet)", soft_wrap=True)
    kernels = state["unobserved_kernels"]
    if kernels:
        console.print("Running kernels nobody observes:")
        for k in kernels:
            console.print(f"  pid {k['pid']}: {escape(k['attach'])}", soft_wrap=True)
    return 0


def _kernel_label(entry: LiveSession) -> str:
    name = entry.kernel_id[:8] if entry.kernel_id else (entry.kernel_name or "-")
    return f"{name} (pid {entry.kernel_pid})" if entry.kernel_pid else name


def _sources(sources: dict[str, Any]) -> str:
    if not sources:
        return "-"
    return " ".join(
        f"{name}" if info.get("on") else f"[dim]{name}: off[/]" for name, info in sources.items()
    )
