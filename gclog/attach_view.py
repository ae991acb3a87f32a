"""What ``gclog attach`` shows in the foreground: a live panel on a terminal, lines otherwise."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from gclog.connect import Target
from gclog.progress import first_line


def _took(record: dict[str, Any]) -> str:
    duration = record.get("duration_s")
    return f"{duration:.3f}s" if duration is not None else "?s"


class LineView:
    """One line per cell: for logs, pipes, and sessions running in the background."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.seen = 0

    def started(self, target: Target, session_id: str) -> None:
        self.note(f"observing kernel {target.label} (session {session_id}); Ctrl-C stops")

    def cell(self, record: dict[str, Any]) -> None:
        self.seen += 1
        if self.quiet:
            return
        count = record.get("execution_count")
        partial = " (seen in part)" if record.get("partial") else ""
        self.console.print(
            f"gclog: [{count if count is not None else '-'}] {record['status']:<11} {_took(record):>8}"
            f"  {escape(first_line(record.get('code')))}{partial}",
            soft_wrap=True,
        )

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"gclog: {escape(message)}", soft_wrap=True)

    def tick(self) -> None:
        pass

    def stop(self) -> None:
        pass


class LiveView(LineView):
    """A panel that stays put: kernel, session, uptime, cells seen, errors, the last cell."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.target_label = ""
        self.session_id = ""
        self.started_at = time.monotonic()
        self.errors = 0
        self.last: dict[str, Any] | None = None
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self._drawn = 0.0

    def started(self, target: Target, session_id: str) -> None:
        self.target_label, self.session_id = target.label, session_id
        self.started_at = time.monotonic()
        self.live.start()
        self._draw()

    def cell(self, record: dict[str, Any]) -> None:
        self.seen += 1
        self.errors += record["status"] in ("error", "interrupted")
        self.last = record
        if record["status"] in ("error", "interrupted"):
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
        table.add_row("kernel", escape(self.target_label))
        table.add_row("session", self.session_id)
        table.add_row("observing", f"{uptime // 3600}:{uptime // 60 % 60:02d}:{uptime % 60:02d}")
        errors = f"  [red]{self.errors} failed[/]" if self.errors else ""
        table.add_row("cells seen", f"{self.seen}{errors}")
        if self.last is not None:
            table.add_row(
                "last cell",
                f"{self.last['status']} in {_took(self.last)}: "
                f"{escape(first_line(self.last.get('code'), 60))}",
            )
        self.live.update(Group(table, "[dim]Ctrl-C detaches[/]"), refresh=True)

    def stop(self) -> None:
        self.live.stop()
