"""What ``gclog run`` and ``gclog attach`` show as they go, through one :class:`View` protocol
(gclog/observe/observation.py): a live bar (run) or panel (attach) on a terminal, one line per
cell otherwise; and the summary a run ends with.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from gclog.privacy.filter import shown
from gclog.records import MetricsSetup
from gclog.text import cell_label, first_line

Headline = Callable[[dict[str, Any]], str]  # the session_start record → the first line shown


def describe_setup(setup: MetricsSetup) -> str:
    """One line for people: which metric sources are on, and why any is off."""
    on: list[str] = []
    off: dict[str, list[str]] = {}  # reason → sources (or single fields) off for it
    for name, source in setup["sources"].items():
        if source["on"]:
            on.append(name)
        else:
            off.setdefault(source["reason"] or "off", []).append(name)
        for group, why in source["fields_off"].items():
            off.setdefault(why, []).append(group)
    parts = [f"{', '.join(on)} on"] if on else []
    parts += [f"{', '.join(names)} off ({reason})" for reason, names in off.items()]
    return "metrics: " + "; ".join(parts)


def running(notebook: Path, total: int, kernel: str) -> Headline:
    return lambda start: f"running {notebook} ({total} cells, kernel {kernel})"


def observing(label: str) -> Headline:
    return lambda start: f"observing kernel {label} (session {start['session_id']}); Ctrl-C stops"


def _failed(record: dict[str, Any]) -> bool:
    return record["status"] in ("error", "interrupted")


class Lines:
    """One line per cell, for logs, pipes and CI: ``[3/10]`` in a run (``total`` given), the
    kernel's execution count when observing; ``quiet`` (a sidecar) shows nothing."""

    def __init__(
        self, console: Console, headline: Headline, total: int | None = None, quiet: bool = False
    ) -> None:
        self.console = console
        self.headline = headline
        self.total = total
        self.quiet = quiet
        self.seen = 0

    def started(self, start: dict[str, Any]) -> None:
        self.note(self.headline(start))
        self.note(describe_setup(start["metrics"]))

    def cell_started(self, index: int | None, code: str | None) -> None:
        pass

    def cell(self, record: dict[str, Any]) -> None:
        self.seen += 1
        if self.quiet:
            return
        status, code = record["status"], first_line(record.get("code"))
        duration = record.get("duration_s")
        if self.total is not None:
            took = f"{duration:7.3f}s" if duration is not None else "      -s"
            detail = f"  {record['error']['ename']}" if "error" in record else ""
            width = len(str(self.total))
            self._line(
                f"gclog: [{self.seen:>{width}}/{self.total}] {status:<11} {took}  {code}{detail}"
            )
        else:
            count = record.get("execution_count")
            took = f"{duration:.3f}s" if duration is not None else "?s"
            partial = " (seen in part)" if record.get("partial") else ""
            self._line(
                f"gclog: [{count if count is not None else '-'}] {status:<11} {took:>8}"
                f"  {code}{partial}"
            )

    def note(self, message: str) -> None:
        if not self.quiet or message.startswith("warning: "):  # a sidecar's log keeps warnings
            self._line(f"gclog: {message}")

    def _line(self, text: str) -> None:
        """Plain text, as it is: no markup, no emoji codes, no wrapping — a log line. Written
        straight to the console's file: rich's rendering costs ~0.2 ms a line, in every cell."""
        self.console.file.write(text + "\n")
        self.console.file.flush()

    def tick(self) -> None:
        pass

    def stop(self) -> None:
        pass


class Bar(Lines):
    """A run's live bar: cells done/total, the running cell, elapsed time, errors so far."""

    def __init__(self, console: Console, headline: Headline, total: int) -> None:
        super().__init__(console, headline, total)
        self.errors = 0
        self.progress = Progress(
            TextColumn("[bold]{task.completed}/{task.total}[/]"),
            BarColumn(bar_width=30),
            TimeElapsedColumn(),
            TextColumn("{task.fields[errors]}"),
            TextColumn("{task.fields[cell]}"),
            console=console,
            transient=True,
        )
        self.task: TaskID | None = None

    def started(self, start: dict[str, Any]) -> None:
        self.console.print(f"gclog: {escape(self.headline(start))}")
        self.task = self.progress.add_task("cells", total=self.total, errors="", cell="")
        self.progress.start()
        self.note(describe_setup(start["metrics"]))

    def cell_started(self, index: int | None, code: str | None) -> None:
        if self.task is not None:
            self.progress.update(
                self.task, cell=f"{cell_label(index)}: {escape(first_line(shown(code), 50))}"
            )

    def cell(self, record: dict[str, Any]) -> None:
        if _failed(record):
            self.errors += 1
            took = record.get("duration_s") or 0.0
            ename = record.get("error", {}).get("ename", record["status"])
            self.console.print(
                f"[red]✗[/] {cell_label(record.get('index'))} {escape(ename)} after {took:.2f}s: "
                f"{escape(first_line(record.get('code')))}"
            )
        if self.task is not None:
            errors = f"[red]{self.errors} failed[/]" if self.errors else ""
            self.progress.update(self.task, advance=1, errors=errors)

    def note(self, message: str) -> None:
        self.console.print(f"gclog: {escape(message)}")

    def stop(self) -> None:
        self.progress.stop()


class Panel(Lines):
    """An observer's panel that stays put: kernel, session, uptime, cells, errors, the last cell."""

    def __init__(self, console: Console, label: str) -> None:
        super().__init__(console, observing(label))
        self.label = label
        self.session_id = ""
        self.started_at = time.monotonic()
        self.errors = 0
        self.last: dict[str, Any] | None = None
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self._drawn = 0.0

    def started(self, start: dict[str, Any]) -> None:
        self.session_id = start["session_id"]
        self.started_at = time.monotonic()
        self.live.start()
        self._draw()
        self.note(describe_setup(start["metrics"]))

    def cell(self, record: dict[str, Any]) -> None:
        self.seen += 1
        self.errors += _failed(record)
        self.last = record
        if _failed(record):
            ename = record.get("error", {}).get("ename", record["status"])
            self.live.console.print(
                f"[red]✗[/] [{record.get('execution_count')}] {escape(ename)}: "
                f"{escape(first_line(record.get('code')))}"
            )
        self._draw()

    def note(self, message: str) -> None:
        self.live.console.print(f"gclog: {escape(message)}")

    def tick(self) -> None:
        if time.monotonic() - self._drawn >= 1.0:
            self._draw()

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        uptime = int(time.monotonic() - self.started_at)
        table.add_row("kernel", escape(self.label))
        table.add_row("session", self.session_id)
        table.add_row("observing", f"{uptime // 3600}:{uptime // 60 % 60:02d}:{uptime % 60:02d}")
        errors = f"  [red]{self.errors} failed[/]" if self.errors else ""
        table.add_row("cells seen", f"{self.seen}{errors}")
        if self.last is not None:
            duration = self.last.get("duration_s")
            took = f"{duration:.3f}s" if duration is not None else "?s"
            table.add_row(
                "last cell",
                f"{self.last['status']} in {took}: {escape(first_line(self.last.get('code'), 60))}",
            )
        self.live.update(Group(table, "[dim]Ctrl-C detaches[/]"), refresh=True)

    def stop(self) -> None:
        self.live.stop()


def run_view(console: Console, notebook: Path, total: int, kernel: str) -> Lines:
    headline = running(notebook, total, kernel)
    return Bar(console, headline, total) if console.is_terminal else Lines(console, headline, total)


def attach_view(console: Console, label: str, quiet: bool) -> Lines:
    if quiet:
        return Lines(console, observing(label), quiet=True)
    return Panel(console, label) if console.is_terminal else Lines(console, observing(label))


# -- the summary at the end of a run -----------------------------------------------------------------


class CellTally:
    """What the summary says of a run's cells: counts by status and the few slowest, kept as the
    cells finish, so the run holds no list of its records (it would grow with every cell)."""

    SLOWEST = 3

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.slowest: list[tuple[float, int, dict[str, Any]]] = []  # a min-heap of the slowest
        self._order = 0

    def add(self, record: dict[str, Any]) -> None:
        status = record["status"]
        self.counts[status] = self.counts.get(status, 0) + 1
        duration = record.get("duration_s")
        if duration is None:
            return
        self._order += 1
        if len(self.slowest) == self.SLOWEST and duration <= self.slowest[0][0]:
            return
        # Only what the summary shows: not the record, whose outputs may be large.
        kept = {
            "index": record.get("index"),
            "duration_s": duration,
            "code": first_line(record.get("code"), 30),
        }
        entry = (duration, -self._order, kept)  # equal durations: the earlier cell stays
        if len(self.slowest) < self.SLOWEST:
            heapq.heappush(self.slowest, entry)
        else:
            heapq.heapreplace(self.slowest, entry)


@dataclass
class Summary:
    notebook: Path | None
    store: Path | None  # None: recording was off
    session_id: str
    reason: str
    message: str | None
    cells: CellTally = field(default_factory=CellTally)
    records: int = 0


def print_summary(console: Console, summary: Summary, elapsed: float) -> None:
    tally = summary.cells
    parts = [f"{n} {status}" for status, n in tally.counts.items()] or ["no cells run"]
    console.print(
        f"gclog: {summary.reason}: {', '.join(parts)} in {elapsed:.1f}s"
        + (f" — {escape(summary.message)}" if summary.message else ""),
        soft_wrap=True,
    )
    timed = [kept for _, _, kept in sorted(tally.slowest, reverse=True)]
    if timed:
        slowest = ", ".join(
            f"{cell_label(c['index'])} {c['duration_s']:.2f}s ({escape(c['code'])})" for c in timed
        )
        console.print(f"  slowest: {slowest}", soft_wrap=True)
    if summary.notebook is not None:
        console.print(f"  notebook: {escape(str(summary.notebook))}", soft_wrap=True)
    if summary.store is None:
        console.print("  records: none (recording is off)")
        return
    console.print(
        f"  records: {summary.records} in {escape(str(summary.store))} "
        f"(gclog export --session {summary.session_id})",
        soft_wrap=True,
    )
