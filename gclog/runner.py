"""``gclog run``: execute a notebook in a fresh kernel, observing it like any other client would.

The chain is cli → runner → kernel, and observer → recorder → store. The runner sends each code cell
itself, feeds every iopub message to the shared :class:`~gclog.observer.Observer`, and waits for
both the shell reply and the kernel's idle status before moving on (as nbclient does). It never
leaves a kernel behind: every exit path goes through ``finally`` → shutdown.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from nbformat import NotebookNode
from nbformat.v4 import new_output

from gclog import kernel as kernels
from gclog import notebook as notebooks
from gclog.analytics.saved_cells import SavedCells
from gclog.config import Paths, Settings
from gclog.errors import ExitCode, GclogError
from gclog.observer import Execution, Observer
from gclog.progress import RunProgress, cell_label
from gclog.recorder import Recorder
from gclog.records import EndReason, iso
from gclog.samplers.pool import describe_setup
from gclog.signals import SignalFlag

POLL_MS = 100  # how often a silent kernel is checked for death, timeout and Ctrl-C
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
    # Said once the kernel is up, as recording starts (the privacy notice): not for bad input.
    announce: Callable[[], object] = lambda: None


@dataclass
class RunResult:
    reason: EndReason
    exit_code: int
    session_id: str
    output: Path
    cells: list[dict[str, Any]] = field(default_factory=list)
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


class Runner:
    def __init__(
        self, request: RunRequest, settings: Settings, paths: Paths, progress: RunProgress
    ) -> None:
        self.request = request
        self.settings = settings
        self.paths = paths
        self.progress = progress
        self.signals = SignalFlag()
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def run(self) -> RunResult:
        self.started = time.monotonic()
        request = self.request
        nb = notebooks.load(request.notebook)
        output = resolve_output(request)
        cwd = request.cwd or request.notebook.resolve().parent
        if not cwd.is_dir():
            raise GclogError(f"--cwd {cwd}: not a directory")
        kernel_name = (
            request.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
        )
        cells = runnable_cells(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
                cell.metadata.pop("execution", None)
        recorder = Recorder(
            "run",
            self.settings,
            self.paths,
            notebook_path=request.notebook,
            saved_cells=SavedCells.from_notebook(nb),  # the cells sent: never "modified"
        )
        try:
            kernel = kernels.start(
                kernel_name,
                cwd,
                self.settings.startup_timeout,
                on_output=lambda line: self.progress.note(f"kernel: {line}"),
                on_launched=recorder.prepare,
            )
        except BaseException:
            recorder.close()
            raise
        # From here on a second Ctrl-C (or SIGTERM) cannot cut the clean-up short either.
        with self.signals.installed():
            try:
                # The kernel is ours: a `gclog attach` of it would record every cell twice.
                if not recorder.off:
                    recorder.registry.lock_kernel(kernel.manager.connection_file)
                return self._execute(nb, cells, kernel, recorder, output)
            finally:
                try:
                    if not recorder.off:
                        recorder.registry.unlock_kernel(kernel.manager.connection_file)
                    kernel.shutdown()
                finally:
                    recorder.close()

    def _execute(
        self,
        nb: NotebookNode,
        cells: list[tuple[int, NotebookNode]],
        kernel: kernels.Kernel,
        recorder: Recorder,
        output: Path,
    ) -> RunResult:
        self.request.announce()
        nb.metadata["language_info"] = kernel.info.get("language_info") or {}
        start = recorder.start(
            kernel.name,
            kernel.info,
            {"name": self.request.notebook.name, "code_cells": len(cells)},
            kernel_pid=kernel.pid,
            connection_file=kernel.manager.connection_file,
            warn=lambda message: self.progress.note(f"warning: {message}"),
        )
        writer = notebooks.CheckpointWriter(nb, output)
        observer = Observer(keep_outputs=True)
        reason: EndReason = "completed"
        message: str | None = None
        self.progress.started(len(cells), kernel.name, self.request.notebook)
        self.progress.note(describe_setup(start["metrics"]))
        try:
            for number, (index, cell) in enumerate(cells, start=1):
                if self.signals.received:
                    reason = "interrupted"
                    break
                self.progress.cell_started(number, index, cell.source)
                execution, outcome = self._execute_cell(kernel, observer, recorder, index, cell)
                record = recorder.cell_finished(execution)
                self._annotate(cell, execution, record)
                self.progress.cell_finished(number, record)
                if outcome == "kernel_died":
                    status = kernel.exit_status()
                    recorder.kernel_event(
                        event="died",
                        exit_code=status if status is not None and status >= 0 else None,
                        signal=-status if status is not None and status < 0 else None,
                        cell_index=index,
                    )
                    reason, message = (
                        "kernel_died",
                        f"the kernel died in {cell_label(index)} ({_death(status)})",
                    )
                    break
                if outcome in ("timeout", "interrupted"):
                    reason = outcome
                    message = (
                        f"{cell_label(index)} ran past --timeout {self.settings.timeout:g}s"
                        if outcome == "timeout"
                        else f"interrupted during {cell_label(index)}"
                    )
                    break
                allowed = self.request.allow_errors or "raises-exception" in cell.metadata.get(
                    "tags", []
                )
                if execution.status == "error" and not allowed:
                    ename = record.get("error", {}).get("ename", "an error")
                    reason, message = "cell_error", f"{cell_label(index)} raised {ename}"
                    break
                writer.maybe_save()
        except BaseException:
            reason = "failed"
            raise
        finally:
            self.progress.stop()
            nb.metadata["gclog"] = {"session_id": recorder.session.id, "status": reason}
            try:
                writer.save()  # the user's notebook first, whatever else fails
            finally:
                recorder.end(reason)
        exit_code = int(EXIT_CODES[reason])
        if reason == "interrupted":
            exit_code = self.signals.exit_code(exit_code)
        return RunResult(
            reason=reason,
            exit_code=exit_code,
            session_id=recorder.session.id,
            output=output,
            cells=recorder.cells,
            message=message,
            saves=writer.stats(),
        )

    def _execute_cell(
        self,
        kernel: kernels.Kernel,
        observer: Observer,
        recorder: Recorder,
        index: int,
        cell: NotebookNode,
    ) -> tuple[Execution, str]:
        """Send one cell and wait for it; returns the execution and how it ended."""
        client = kernel.client
        allowed = self.request.allow_errors or "raises-exception" in cell.metadata.get("tags", [])
        msg_id = client.execute(
            cell.source, store_history=True, allow_stdin=False, stop_on_error=not allowed
        )
        execution = observer.expect(msg_id, cell.source, index, cell.get("id"))
        recorder.cell_started(execution)
        cell.outputs = execution.outputs  # the notebook shows outputs as they arrive
        iopub, shell = client.iopub_channel, client.shell_channel
        poller = zmq.Poller()
        poller.register(iopub.socket, zmq.POLLIN)
        poller.register(shell.socket, zmq.POLLIN)
        timeout = self.settings.timeout
        deadline = time.monotonic() + timeout if timeout else None
        outcome = "done"
        stop_waiting_at: float | None = None
        reply: dict[str, Any] | None = None
        while not (execution.idle and reply is not None):
            now = time.monotonic()
            if self.signals.received and outcome == "done":
                outcome = "interrupted"
                execution.interrupted = True
                kernel.interrupt()
                stop_waiting_at = now + INTERRUPT_GRACE_S
            if self.signals.count > 1 or (stop_waiting_at is not None and now >= stop_waiting_at):
                break  # the kernel does not answer (or the user insists): stop waiting
            if deadline is not None and now >= deadline and outcome == "done":
                outcome = "timeout"
                execution.interrupted = True
                kernel.interrupt()
                stop_waiting_at = now + INTERRUPT_GRACE_S
            waits = [POLL_MS / 1000]
            waits += [t - now for t in (deadline, stop_waiting_at) if t is not None and t > now]
            ready = dict(poller.poll(max(1, int(min(waits) * 1000))))
            if iopub.socket in ready:
                while iopub.msg_ready():
                    observer.handle(iopub.get_msg())
            if shell.socket in ready:
                while shell.msg_ready():
                    msg = shell.get_msg()
                    if msg["parent_header"].get("msg_id") == msg_id:
                        reply = msg
                        execution.reply_status = msg["content"].get("status")
                        if execution.execution_count is None:
                            execution.execution_count = msg["content"].get("execution_count")
                        if not execution.idle and stop_waiting_at is None:
                            stop_waiting_at = time.monotonic() + IDLE_AFTER_REPLY_S
            if not ready and kernel.exit_status() is not None:
                self._mark_dead(execution, kernel.exit_status())
                return execution, "kernel_died"
        if outcome == "timeout" and execution.status == "ok":
            outcome = "done"  # it finished before the interrupt landed
        if reply is not None:
            cell.metadata.setdefault("execution", {})["shell.execute_reply"] = iso(
                reply["header"]["date"]
            )
        return execution, outcome

    @staticmethod
    def _mark_dead(execution: Execution, status: int | None) -> None:
        evalue = f"Kernel died while executing the cell ({_death(status)})"
        execution.error = {"ename": "DeadKernelError", "evalue": evalue, "traceback": []}
        execution.settle()
        execution.outputs.append(
            new_output("error", ename="DeadKernelError", evalue=evalue, traceback=[])
        )

    @staticmethod
    def _annotate(cell: NotebookNode, execution: Execution, record: dict[str, Any]) -> None:
        """Per-cell timing in the cell's metadata, where jupyterlab-execute-time reads it."""
        cell.execution_count = execution.execution_count
        timing = cell.metadata.setdefault("execution", {})
        for key, moment in (
            ("iopub.status.busy", execution.started_at),
            ("iopub.execute_input", execution.input_at),
            ("iopub.status.idle", execution.ended_at),
        ):
            if moment is not None:
                timing[key] = iso(moment)
        cell.metadata["gclog"] = {
            "status": execution.status,
            "duration_s": execution.duration_s,
            "event_id": record.get("event_id"),
        }


def _death(status: int | None) -> str:
    if status is None:
        return "exit status unknown"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"
