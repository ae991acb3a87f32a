"""What ``gclog run`` shows as it works: a live bar on a terminal, else one line per cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


def cell_label(index: int | None) -> str:
    """Cells are numbered from 1 for people; records keep nbformat's 0-based index."""
    return "cell ?" if index is None else f"cell {index + 1}"


def first_line(code: str | None, width: int = 60) -> str:
    line = next((ln.strip() for ln in (code or "").splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


class RunProgress(Protocol):
    def started(self, total: int, kernel: str, notebook: Path) -> None: ...
    def cell_started(self, number: int, index: int, code: str) -> None: ...
    def cell_finished(self, number: int, record: dict[str, Any]) -> None: ...
    def note(self, message: str) -> None: ...
    def stop(self) -> None: ...


@dataclass
class Summary:
    notebook: Path | None
    store: Path | None  # None: recording was off
    session_id: str
    reason: str
    message: str | None
    cells: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0


class PlainProgress:
    """One line per cell, for logs and CI."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.total = 0
        self.width = 1

    def started(self, total: int, kernel: str, notebook: Path) -> None:
        self.total = total
        self.width = len(str(total))
        self.console.print(
            f"gclog: running {escape(str(notebook))} ({total} cells, kernel {kernel})"
        )

    def cell_started(self, number: int, index: int, code: str) -> None:
        pass

    def cell_finished(self, number: int, record: dict[str, Any]) -> None:
        status = record["status"]
        duration = record.get("duration_s")
        took = f"{duration:7.3f}s" if duration is not None else "      -s"
        detail = f"  {record['error']['ename']}" if "error" in record else ""
        self.console.print(
            f"gclog: [{number:>{self.width}}/{self.total}] {status:<11} {took}  "
            f"{escape(first_line(record.get('code')))}{escape(detail)}",
            soft_wrap=True,
        )

    def note(self, message: str) -> None:
        self.console.print(f"gclog: {escape(message)}", soft_wrap=True)

    def stop(self) -> None:
        pass


class BarProgress:
    """A live bar: cells done/total, the running cell, elapsed time, errors so far."""

    def __init__(self, console: Console) -> None:
        self.console = console
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

    def started(self, total: int, kernel: str, notebook: Path) -> None:
        self.console.print(
            f"gclog: running {escape(str(notebook))} ({total} cells, kernel {kernel})"
        )
        self.task = self.progress.add_task("cells", total=total, errors="", cell="")
        self.progress.start()

    def cell_started(self, number: int, index: int, code: str) -> None:
        if self.task is not None:
            self.progress.update(
                self.task, cell=f"{cell_label(index)}: {escape(first_line(code, 50))}"
            )

    def cell_finished(self, number: int, record: dict[str, Any]) -> None:
        if record["status"] in ("error", "interrupted"):
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


def make_progress(console: Console) -> RunProgress:
    return BarProgress(console) if console.is_terminal else PlainProgress(console)


def print_summary(console: Console, summary: Summary, elapsed: float) -> None:
    cells = summary.cells
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell["status"]] = counts.get(cell["status"], 0) + 1
    parts = [f"{n} {status}" for status, n in counts.items()] or ["no cells run"]
    console.print(
        f"gclog: {summary.reason}: {', '.join(parts)} in {elapsed:.1f}s"
        + (f" — {escape(summary.message)}" if summary.message else ""),
        soft_wrap=True,
    )
    timed = sorted(
        (c for c in cells if c.get("duration_s") is not None),
        key=lambda c: c["duration_s"],
        reverse=True,
    )[:3]
    if timed:
        slowest = ", ".join(
            f"{cell_label(c['index'])} {c['duration_s']:.2f}s "
            f"({escape(first_line(c.get('code'), 30))})"
            for c in timed
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
