"""``gclog run``: execute a notebook in a fresh kernel, observing it like any other client would.

The chain is cli → run → jupyter.kernel, and observe.observation → pipeline.recorder → store.
The kernel is observed the way ``gclog attach`` observes one (gclog/observe/observation.py); what
run adds is sending each code cell itself and waiting for both the shell reply and the kernel's
idle status before the next (as nbclient does), and writing the executed notebook. It never
leaves a kernel behind: every exit path shuts it down.

Start-up is ordered around the kernel's own (~0.7 s of its Python starting up): the checks that
need nothing heavy run first (the notebook as JSON, the output path, the kernel spec), then the
kernel is launched, and only then are nbformat, the observer, the recorder, the store and the
metric samplers imported and opened, while the kernel boots on the other core. Bad input found
after the launch (a notebook nbformat refuses) still gets its one line: the kernel is shut down
first and says nothing. At the end the kernel is asked to exit before the session's last records
are written, so its shutdown overlaps them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gclog.config import Paths, Settings
from gclog.errors import ExitCode, GclogError
from gclog.files import check_writable
from gclog.jupyter import kernel as kernels
from gclog.jupyter import notebook as notebooks
from gclog.records import EndReason, iso
from gclog.text import cell_label

if TYPE_CHECKING:  # imported once the kernel is booting (see the module's docstring)
    from nbformat import NotebookNode
    from rich.console import Console

    from gclog.entry.views import CellTally
    from gclog.observe.observation import Observation, Stop
    from gclog.observe.observer import Execution

INTERRUPT_GRACE_S = 5.0  # how long an interrupted cell may take to report back
IDLE_AFTER_REPLY_S = 4.0  # nbclient's iopub_timeout: a reply without idle is complete after this

EXIT_CODES: dict[EndReason, ExitCode] = {
    "completed": ExitCode.OK,
    "cell_error": ExitCode.CELL_ERROR,
    "kernel_died": ExitCode.KERNEL_DIED,
    "timeout": ExitCode.TIMEOUT,
    "interrupted": ExitCode.INTERRUPTED,
    "failed": ExitCode.INTERNAL,
}


@dataclass
class RunRequest:
    notebook: Path
    output: Path | None = None
    kernel_name: str | None = None
    cwd: Path | None = None
    allow_errors: bool = False
    inplace: bool = False


@dataclass
class RunResult:
    reason: EndReason
    exit_code: int
    session_id: str
    output: Path
    cells: CellTally
    message: str | None = None
    saves: dict[str, Any] = field(default_factory=dict)


def default_output(notebook: Path) -> Path:
    return notebook.with_name(f"{notebook.stem}.gclog.ipynb")


def resolve_output(request: RunRequest) -> Path:
    output = (
        request.notebook
        if request.inplace
        else (request.output or default_output(request.notebook))
    )
    if not request.inplace and output.resolve() == request.notebook.resolve():
        raise GclogError(f"{output}: refusing to overwrite the input notebook (use --inplace)")
    if output.is_dir():
        raise GclogError(f"{output}: is a directory; give the output notebook's file name")
    parent = output.resolve().parent
    if not parent.is_dir():
        raise GclogError(f"{output}: directory {parent} does not exist")
    check_writable(output)  # before the kernel starts: a run whose notebook goes nowhere is lost
    return output


def runnable_cells(nb: NotebookNode) -> list[tuple[int, NotebookNode]]:
    """Code cells to execute, following nbclient: empty cells and ``skip-execution`` are skipped."""
    return [
        (index, cell)
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and cell.source.strip()
        and "skip-execution" not in cell.get("metadata", {}).get("tags", [])
    ]


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class Runner:
    def __init__(
        self,
        request: RunRequest,
        settings: Settings,
        paths: Paths,
        console: Console | None = None,  # None: one on stderr, made while the kernel boots
    ) -> None:
        self.request = request
        self.settings = settings
        self.paths = paths
        self.console: Console | None = console
        self.started = time.monotonic()
        self.nb: NotebookNode | None = None
        self.last_record: dict[str, Any] = {}
        self.tally: CellTally | None = None  # for the summary: the records are not kept

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def run(self) -> RunResult:
        self.started = time.monotonic()
        request = self.request
        raw = notebooks.read(request.notebook)  # not JSON, not a notebook: said before any kernel
        output = resolve_output(request)
        cwd = request.cwd or request.notebook.resolve().parent
        if not cwd.is_dir():
            raise GclogError(f"--cwd {cwd}: not a directory")
        kernel_name = request.kernel_name or raw.kernel_name or "python3"
        raw.data = {}  # nbformat parses the text again: the parsed JSON need not stay for the run
        connection_file = kernels.new_connection_file()
        kernel = kernels.launch(kernel_name, cwd, connection_file)
        try:
            return self._observe(kernel, raw, output, connection_file)
        except BaseException:
            kernel.shutdown(now=True)  # at once: bad input, or the run already failed
            raise
        finally:
            kernel.shutdown()  # a no-op when the observation shut it down already

    def _observe(
        self,
        kernel: kernels.Kernel,
        raw: notebooks.RawNotebook,
        output: Path,
        connection_file: Path,
    ) -> RunResult:
        """While the kernel boots: nbformat, the observer, the recorder; then the cells."""
        # Parsed before the imports below: validating compiles nbformat's schema (fastjsonschema,
        # ~10 MB for a moment), and what the imports allocate next reuses that memory instead of
        # adding to the process's peak.
        nb = self.nb = notebooks.parse(raw)
        raw.text = ""  # the notebook is in nbformat's nodes now

        from gclog.enrich.saved_cells import SavedCells
        from gclog.entry.views import CellTally, run_view
        from gclog.observe.observation import Observation
        from gclog.pipeline.recorder import Recorder

        request = self.request
        self.tally = CellTally()
        cells = runnable_cells(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
                cell.metadata.pop("execution", None)
        if self.console is None:
            self.console = _stderr_console()
        view = run_view(self.console, request.notebook, len(cells), kernel.name)
        observation = Observation(
            "run",
            self.settings,
            self.paths,
            connection_file,
            view,
            keep_outputs=True,
            recorder=lambda: Recorder(
                "run",
                self.settings,
                self.paths,
                notebook_path=request.notebook,
                saved_cells=SavedCells.from_notebook(nb),  # the cells sent: never "modified"
                keep_cells=False,
            ),
            on_cell=self._annotate,
        )
        with observation:
            observation.on_exit(kernel.shutdown)
            if kernel.pid is not None:
                observation.recorder.prepare(kernel.pid)
            kernels.wait_ready(
                kernel,
                self.settings.startup_timeout,
                on_output=lambda line: view.note(f"kernel: {line}"),
            )
            observation.announce()  # once the kernel is up: bad input gets its one line only
            result = self._execute(observation, kernel, nb, cells, output)
        lost = observation.recorder.lost
        if lost:  # never "completed" over lost records
            if result.exit_code == ExitCode.OK:
                result.exit_code = ExitCode.RECORDS_LOST
            result.message = f"{lost} records lost (see above)" + (
                f"; {result.message}" if result.message else ""
            )
        return result

    def _execute(
        self,
        observation: Observation,
        kernel: kernels.Kernel,
        nb: NotebookNode,
        cells: list[tuple[int, NotebookNode]],
        output: Path,
    ) -> RunResult:
        from gclog.jupyter.subscription import Subscription
        from gclog.observe.observation import CONNECT_TIMEOUT_S, Stop

        nb.metadata["language_info"] = kernel.info.get("language_info") or {}
        subscription = Subscription(kernel.manager.get_connection_info())
        subscription.wait_connected(CONNECT_TIMEOUT_S, nudge=kernel.client.kernel_info)
        observation.start(
            subscription,
            kernel,
            kernel.name,
            kernel.info,
            {"name": self.request.notebook.name, "code_cells": len(cells)},
        )
        observation.handle(subscription.early)
        # A cell's record is made while the next cell runs: the kernel need not wait for it.
        # Whether to go on is decided before that, from the reply, so stop-on-error, the
        # raises-exception tag and --allow-errors hold as ever: nothing is sent after a failure.
        observation.defer_records = True
        writer = notebooks.CheckpointWriter(nb, output)
        signals = observation.signals
        reason: EndReason = "completed"
        message: str | None = None
        try:
            for index, cell in cells:
                if signals.received:
                    reason = "interrupted"
                    break
                execution, outcome = self._execute_cell(observation, kernel, index, cell)
                if isinstance(outcome, Stop):
                    reason, message = outcome.reason, outcome.message
                    break
                if outcome in ("timeout", "interrupted"):
                    reason = outcome
                    message = (
                        f"{cell_label(index)} ran past --timeout {self.settings.timeout:g}s"
                        if outcome == "timeout"
                        else f"interrupted during {cell_label(index)}"
                    )
                    break
                if execution.status == "error" and not self._errors_allowed(cell):
                    observation.record_deferred()  # its scrubbed error name is in its record
                    ename = self.last_record.get("error", {}).get("ename", "an error")  # scrubbed
                    reason, message = "cell_error", f"{cell_label(index)} raised {ename}"
                    break
                writer.maybe_save()
        except BaseException:
            reason = "failed"
            raise
        finally:
            observation.record_deferred()  # the last cell's record, before the notebook is saved
            observation.reason = reason
            if reason in ("completed", "cell_error"):
                observation.recorder.stop_metrics()  # the last window sees the kernel still up
                kernel.begin_shutdown()  # idle: it exits while the session's end is recorded
            nb.metadata["gclog"] = {"session_id": observation.recorder.session.id, "status": reason}
            widgets = observation.observer.widgets
            if widgets is not None and (state := widgets.metadata()) is not None:
                nb.metadata["widgets"] = state  # the widgets this run made, as nbclient writes
            writer.save()  # the person's notebook first, whatever else fails
        assert self.tally is not None  # made before the first cell
        exit_code = int(EXIT_CODES[reason])
        if reason == "interrupted":
            exit_code = signals.exit_code(exit_code)
        return RunResult(
            reason=reason,
            exit_code=exit_code,
            session_id=observation.recorder.session.id,
            output=output,
            cells=self.tally,
            message=message,
            saves=writer.stats(),
        )

    def _errors_allowed(self, cell: NotebookNode) -> bool:
        return self.request.allow_errors or "raises-exception" in cell.metadata.get("tags", [])

    def _execute_cell(
        self, observation: Observation, kernel: kernels.Kernel, index: int, cell: NotebookNode
    ) -> tuple[Execution, str | Stop]:
        """Send one cell and wait until it is recorded; returns it and how it ended."""
        from gclog.observe.observation import POLL_MS

        client = kernel.client
        msg_id = client.execute(
            cell.source,
            store_history=True,
            allow_stdin=False,
            stop_on_error=not self._errors_allowed(cell),
        )
        execution = observation.expect(msg_id, cell.source, index, cell.get("id"))
        cell.outputs = execution.outputs  # the notebook shows outputs as they arrive
        observation.record_deferred()  # the previous cell's record, while this one runs
        signals = observation.signals
        timeout = self.settings.timeout
        deadline = time.monotonic() + timeout if timeout else None
        outcome = "done"
        stop_waiting_at: float | None = None
        while not execution.done:
            now = time.monotonic()
            if signals.received and outcome == "done":
                outcome = "interrupted"
                execution.interrupted = True
                kernel.interrupt()
                stop_waiting_at = now + INTERRUPT_GRACE_S
            if deadline is not None and now >= deadline and outcome == "done":
                outcome = "timeout"
                execution.interrupted = True
                kernel.interrupt()
                stop_waiting_at = now + INTERRUPT_GRACE_S
            if execution.reply_status is not None and stop_waiting_at is None:
                stop_waiting_at = now + IDLE_AFTER_REPLY_S  # replied, and idle is late
            if signals.count > 1 or (stop_waiting_at is not None and now >= stop_waiting_at):
                observation.finish(execution)  # the kernel does not answer (or the user insists)
                break
            waits = [POLL_MS / 1000]
            waits += [t - now for t in (deadline, stop_waiting_at) if t is not None and t > now]
            stop = observation.pump(int(min(waits) * 1000), shell=client.shell_channel)
            if stop is not None:
                return execution, stop
        if outcome == "timeout" and execution.status == "ok":
            outcome = "done"  # it finished before the interrupt landed
        return execution, outcome

    def _annotate(self, execution: Execution, record: dict[str, Any]) -> None:
        """Per-cell timing in the cell's metadata, where jupyterlab-execute-time reads it."""
        self.last_record = record
        if self.tally is not None:
            self.tally.add(record)
        if self.nb is None or execution.index is None:
            return
        cell = self.nb.cells[execution.index]
        cell.execution_count = execution.execution_count
        timing = cell.metadata.setdefault("execution", {})
        for key, moment in (
            ("iopub.status.busy", execution.started_at),
            ("iopub.execute_input", execution.input_at),
            ("iopub.status.idle", execution.ended_at),
            ("shell.execute_reply", execution.reply_at),
        ):
            if moment is not None:
                timing[key] = iso(moment)
        cell.metadata["gclog"] = {
            "status": execution.status,
            "duration_s": execution.duration_s,
            "event_id": record.get("event_id"),
        }
