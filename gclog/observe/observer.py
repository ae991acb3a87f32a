"""The iopub observer: one implementation of "what happened in this kernel", for every entry point.

It consumes iopub messages (as jupyter_client deserializes them) and turns the ones that belong to
execute requests into :class:`Execution` objects, finished when the kernel goes idle after them.
Timings come from the kernel's own message header dates, so an observer that never sees the
``execute_reply`` (``gclog attach``) measures the same durations as the client that sent the cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nbformat.notebooknode import NotebookNode, from_dict

from gclog.observe.outputs import error_info, summarize
from gclog.observe.widgets import WidgetState
from gclog.records import CellStatus, CellTimes, iso
from gclog.text import truncate

_OUTPUT_TYPES = frozenset(("stream", "display_data", "execute_result", "error"))
# Without the notebook in memory (attach), a long stream is compacted to this many characters.
_STREAM_COMPACT_AT = 1024 * 1024


def _sender(msg_id: str) -> str:
    """The kernel session that sent a message, from its msg_id "<session>_<pid>_<n>" (or
    "<session>_<n>"); "" if it does not say. A new session is a new kernel (a restart). The pid
    is left out: a forked child (a multiprocessing worker that prints) sends with its own."""
    head, _, count = msg_id.rpartition("_")
    if not head or not count.isdigit():
        return ""
    session, _, pid = head.rpartition("_")
    return session if session and pid.isdigit() else head


def _date(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


@dataclass
class Execution:
    """One execute request as the kernel handled it."""

    msg_id: str
    queued_at: datetime | None = None
    started_at: datetime | None = None
    input_at: datetime | None = None
    ended_at: datetime | None = None
    code: str | None = None
    saw_input: bool = False
    execution_count: int | None = None
    outputs: list[Any] = field(default_factory=list)
    error: dict[str, Any] | None = None
    partial: bool = False
    reply_status: str | None = None  # from the shell reply, when we sent the request ourselves
    reply_at: datetime | None = None
    interrupted: bool = False  # we interrupted it (timeout, Ctrl-C), whatever the kernel says
    silent: bool = False  # sent with silent=True (no execute_input, not an abort): not a cell
    idle: bool = False
    index: int | None = None
    cell_id: str | None = None
    client: str = ""  # the sending client's session (its clock is its own)
    done: bool = False  # recorded
    _clear_pending: bool = False
    # Stream text for the last output, joined once (settle) rather than copied on every chunk.
    _pending: list[str] = field(default_factory=list)
    _pending_len: int = 0

    def settle(self) -> None:
        """Put stream text still held in pieces into its output."""
        if self._pending:
            self.outputs[-1]["text"] += "".join(self._pending)
            self._pending.clear()
            self._pending_len = 0

    def replied(self, reply: dict[str, Any]) -> None:
        """The shell reply to a request we sent ourselves (run)."""
        content = reply.get("content") or {}
        self.reply_status = content.get("status")
        self.reply_at = _date((reply.get("header") or {}).get("date"))
        if self.execution_count is None:
            self.execution_count = content.get("execution_count")

    def clear_outputs(self) -> None:
        self._pending.clear()
        self._pending_len = 0
        self.outputs.clear()

    @property
    def status(self) -> CellStatus:
        if self.error is not None:
            ename = self.error.get("ename")
            return "interrupted" if ename == "KeyboardInterrupt" or self.interrupted else "error"
        if self.interrupted and not self.idle:
            return "interrupted"
        if self.reply_status == "aborted":
            return "aborted"
        if self.reply_status == "error":
            return "error"
        if not self.saw_input and self.reply_status is None and not self.partial:
            return "aborted"
        return "ok"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.ended_at:
            return max(0.0, (self.ended_at - self.started_at).total_seconds())
        return None

    @property
    def queue_wait_s(self) -> float | None:
        if self.queued_at and self.started_at:
            return max(0.0, (self.started_at - self.queued_at).total_seconds())
        return None

    def cell_fields(self) -> dict[str, Any]:
        """The cell-specific fields of a ``cell`` record (the session adds the envelope)."""
        self.settle()
        times: CellTimes = {
            "queued_at": iso(self.queued_at) if self.queued_at else None,
            "started_at": iso(self.started_at) if self.started_at else None,
            "ended_at": iso(self.ended_at) if self.ended_at else None,
        }
        code = self.code
        fields: dict[str, Any] = {
            "index": self.index,
            "cell_id": self.cell_id,
            "msg_id": self.msg_id,
            "execution_count": self.execution_count,
            "status": self.status,
            "partial": self.partial,
            "times": times,
            "duration_s": self.duration_s,
            "queue_wait_s": self.queue_wait_s,
            "code": code,  # whole: the privacy filter scrubs it, cuts it to its cap, and hashes it
            "code_sha256": None,  # of the scrubbed code only: the privacy filter's to compute
            "code_lines": code.count("\n") + 1 if code else (0 if code == "" else None),
            "output": summarize(self.outputs),
        }
        if self.error is not None:
            fields["error"] = error_info(self.error)
        return fields


def output_from_msg(msg_type: str, content: dict[str, Any]) -> NotebookNode | None:
    """An nbformat output from an iopub message, as nbformat's own ``output_from_msg`` makes it.

    Without its per-output JSON-Schema validation (a quarter of a millisecond per output, on
    every output of every cell): the fields are checked for the types the notebook format needs.
    """
    data, metadata = content.get("data", {}), content.get("metadata", {})
    if msg_type == "stream":
        name, text = content.get("name"), content.get("text")
        if isinstance(name, str) and isinstance(text, str):
            return from_dict({"output_type": "stream", "name": name, "text": text})
    elif msg_type in ("execute_result", "display_data"):
        if isinstance(data, dict) and isinstance(metadata, dict):
            output = {"output_type": msg_type, "data": data, "metadata": metadata}
            if msg_type == "execute_result":
                count = content.get("execution_count")
                output["execution_count"] = count if isinstance(count, int) else None
            return from_dict(output)
    elif msg_type == "error":
        traceback = content.get("traceback")
        if isinstance(traceback, list):
            return from_dict(
                {
                    "output_type": "error",
                    "ename": str(content.get("ename", "")),
                    "evalue": str(content.get("evalue", "")),
                    "traceback": [str(line) for line in traceback],
                }
            )
    return None


@dataclass
class KernelRestarted:
    """The kernel process behind the channels changed (a restart), seen at ``when``."""

    when: datetime | None
    previous: str
    current: str


class Observer:
    """Feeds on iopub messages; ``handle`` returns what finished or happened because of each.

    ``keep_outputs`` keeps every output for writing a notebook (``gclog run``); without it long
    streams are compacted, so a cell printing gigabytes cannot exhaust gclog's memory.
    """

    def __init__(self, keep_outputs: bool = True) -> None:
        self.keep_outputs = keep_outputs
        # The widgets' state, for the executed notebook (run); nobody keeps it in attach.
        self.widgets = WidgetState() if keep_outputs else None
        self.running: dict[str, Execution] = {}
        self._displays: dict[str, list[Any]] = {}
        self._kernel_identity: str | None = None
        self._last_error_end: datetime | None = None
        # Per client: the least (kernel's busy - client's send time) seen, which is its clock's
        # offset from the kernel's plus the shortest transit (a request is handled after it is sent).
        self._offsets: dict[str, timedelta] = {}

    def expect(self, msg_id: str, code: str, index: int | None, cell_id: str | None) -> Execution:
        """Register a request we are about to send, so that its code is known even if aborted."""
        execution = Execution(msg_id=msg_id, code=code, index=index, cell_id=cell_id)
        self.running[msg_id] = execution
        return execution

    def handle(self, msg: dict[str, Any]) -> Execution | KernelRestarted | None:
        """What ``msg`` finished (an Execution) or told (KernelRestarted: the first message of a
        new kernel, not taken yet: hand it back once the old kernel's cells are dealt with)."""
        header = msg.get("header") or {}
        restarted = self._check_identity(header)
        if restarted is not None:
            return restarted
        parent = msg.get("parent_header") or {}
        if parent.get("msg_type") != "execute_request":
            return None
        msg_type = header.get("msg_type") or msg.get("msg_type")
        content = msg.get("content") or {}
        msg_id = parent.get("msg_id")
        if not msg_id:
            return None
        execution = self.running.get(msg_id)
        if execution is None:
            is_start = msg_type == "status" and content.get("execution_state") == "busy"
            execution = Execution(msg_id=msg_id, partial=not is_start)
            self.running[msg_id] = execution
        if execution.queued_at is None:
            execution.queued_at = _date(parent.get("date"))
            execution.client = str(parent.get("session") or "")
        if msg_type == "status":
            state = content.get("execution_state")
            if state == "busy":
                execution.started_at = _date(header.get("date"))
                self._calibrate(execution)
            elif state == "idle":
                execution.ended_at = _date(header.get("date"))
                execution.idle = True
                execution.settle()
                del self.running[msg_id]
                self._classify(execution)
                if not self.keep_outputs:
                    self._displays.clear()  # nothing keeps earlier outputs to update
                return execution
        elif msg_type == "execute_input":
            execution.saw_input = True
            execution.input_at = _date(header.get("date"))
            if execution.code is None:
                execution.code = str(content.get("code", ""))
            execution.execution_count = content.get("execution_count")
        elif msg_type in _OUTPUT_TYPES:
            self._add_output(execution, msg, msg_type, content)
        elif msg_type == "clear_output":
            if content.get("wait"):
                execution._clear_pending = True
            else:
                execution.clear_outputs()
        elif msg_type == "update_display_data":
            self._update_display(content)
        elif msg_type in ("comm_open", "comm_msg") and self.widgets is not None:
            self.widgets.handle(msg)
        return None

    def _classify(self, execution: Execution) -> None:
        """Tell an aborted request from a silent one: neither shows its code on iopub.

        After an error, ipykernel aborts the requests that were already queued: they reached
        the kernel before the failed cell ended. A request without execute_input that arrived
        later was sent with silent=True (front ends poll variables that way): it is not a cell.
        """
        if execution.saw_input:
            failed = execution.error is not None
            self._last_error_end = execution.ended_at if failed else None
            return
        if execution.partial or execution.code is not None:
            return
        arrived, last_error = self._arrival(execution), self._last_error_end
        aborted = arrived is not None and last_error is not None and arrived <= last_error
        execution.silent = not aborted

    def _calibrate(self, execution: Execution) -> None:
        if execution.queued_at is None or execution.started_at is None:
            return
        offset = execution.started_at - execution.queued_at
        known = self._offsets.get(execution.client)
        if known is None or offset < known:
            self._offsets[execution.client] = offset

    def _arrival(self, execution: Execution) -> datetime | None:
        """When the request reached the kernel, on the kernel's clock: its send time (the
        client's clock) moved by that client's offset, learnt from the kernel's own busy times,
        so a remote kernel or a skewed clock does not turn an aborted cell into a silent one."""
        offset = self._offsets.get(execution.client)
        if execution.queued_at is None or offset is None:
            return None
        return execution.queued_at + offset

    def kernel_gone(self, execution: Execution, why: str, when: datetime | None = None) -> None:
        """The kernel went away while ``execution`` ran: it ends with a DeadKernelError (as
        nbclient names it), also shown among its outputs when they are kept for a notebook (see
        the README: the notebook shows where the run stopped, as papermill users expect). It
        ran until ``when``, when we noticed, if the kernel never said it ended."""
        execution.settle()
        if execution.ended_at is None and execution.started_at is not None and when is not None:
            execution.ended_at = max(when, execution.started_at)
        execution.error = {"ename": "DeadKernelError", "evalue": why, "traceback": []}
        if self.keep_outputs:
            execution.outputs.append(
                from_dict(
                    {
                        "output_type": "error",
                        "ename": "DeadKernelError",
                        "evalue": why,
                        "traceback": [],
                    }
                )
            )

    def forget_identity(self) -> None:
        """The caller already knows the kernel was replaced: take the next identity silently."""
        self._kernel_identity = None

    def _check_identity(self, header: dict[str, Any]) -> KernelRestarted | None:
        identity = _sender(str(header.get("msg_id", "")))
        if not identity:
            return None
        previous, self._kernel_identity = self._kernel_identity, identity
        if previous is None or previous == identity:
            return None
        self._displays.clear()
        return KernelRestarted(when=_date(header.get("date")), previous=previous, current=identity)

    def _add_output(
        self, execution: Execution, msg: dict[str, Any], msg_type: str, content: dict[str, Any]
    ) -> None:
        if execution._clear_pending:
            execution.clear_outputs()
            execution._clear_pending = False
        if msg_type == "error":
            execution.error = content
        if msg_type == "execute_result" and execution.execution_count is None:
            execution.execution_count = content.get("execution_count")
        outputs = execution.outputs
        if msg_type == "stream" and outputs and outputs[-1].get("output_type") == "stream":
            last = outputs[-1]
            if last.get("name") == content.get("name"):
                text = str(content.get("text", ""))
                execution._pending.append(text)
                execution._pending_len += len(text)
                held = len(last["text"]) + execution._pending_len
                if not self.keep_outputs and held > _STREAM_COMPACT_AT:
                    execution.settle()
                    last["text"] = truncate(last["text"], _STREAM_COMPACT_AT // 2)
                return
        execution.settle()
        output = output_from_msg(msg_type, content)
        if output is None:
            return  # a malformed message from a misbehaving kernel: nothing to record
        outputs.append(output)
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id and msg_type in ("display_data", "execute_result"):
            # As nbclient does: a new output with a display id updates the earlier ones too.
            self._update_display(content)
            self._displays.setdefault(display_id, []).append(output)

    def _update_display(self, content: dict[str, Any]) -> None:
        display_id = (content.get("transient") or {}).get("display_id")
        for output in self._displays.get(display_id, []) if display_id else []:
            output["data"] = content.get("data", {})
            output["metadata"] = content.get("metadata", {})
