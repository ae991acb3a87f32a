"""One observed session of a kernel, the same for ``gclog run`` and ``gclog attach``.

The lifecycle does not depend on who drives the kernel::

    lock the kernel → announce → start the session → pump messages → end → unlock → close

Locking keeps a second gclog off the kernel (it would record every cell twice); the announcement
is the privacy notice (or the opt-out line); pumping feeds iopub messages to the observer and what
finishes to the recorder, tells a restart from a death from a shutdown, and notices a stop asked
for in band (``%unload_ext``). The entry points add only what is theirs: ``run`` starts the kernel
and sends the cells (their shell replies come back through :meth:`Observation.pump` too),
``attach`` waits.
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import zmq

from gclog.config import Paths, Settings
from gclog.errors import ExitCode
from gclog.jupyter.subscription import Subscription
from gclog.observe.observer import Execution, KernelRestarted, Observer
from gclog.observe.signals import SignalFlag
from gclog.pipeline.recorder import Recorder
from gclog.privacy.disclosure import announce
from gclog.privacy.optout import opt_out_reason
from gclog.records import EndReason, EntryPoint, NotebookInfo, parse_iso
from gclog.store.live import LiveSessions
from gclog.text import cell_label
from gclog.warn import routed

POLL_MS = 100  # how often the kernel is checked for death and the loops for Ctrl-C
CONNECT_TIMEOUT_S = 2.0  # kernels before ipykernel 7 never welcome a subscriber
ANNOUNCED_RESTART_S = 60.0  # a requested restart: wait as long as a kernel may take to start
DRAIN_S = 1.0  # at most this long to take in what is in flight when observation stops
# Cells ending this close together are a burst (Run All, a loop of requests): while one lasts, an
# observer of someone else's kernel takes its messages every BURST_LAG_S, not as each comes, so
# its cost is one wake-up per batch of cells instead of two per cell.
BURST_GAP_S = 0.5
BURST_LAG_S = 0.05


class View(Protocol):
    """What an entry point shows as the session goes (gclog/entry/views.py)."""

    def started(self, start: dict[str, Any]) -> None: ...
    def cell_started(self, index: int | None, code: str | None) -> None: ...
    def cell(self, record: dict[str, Any]) -> None: ...
    def note(self, message: str) -> None: ...
    def tick(self) -> None: ...
    def stop(self) -> None: ...


class KernelWatch(Protocol):
    """Whether the kernel's process is still there, and whether a new one took its place.

    A kernel gclog owns (jupyter/kernel.py) that goes away has died: nothing restarts it or shuts
    it down behind gclog's back. One that someone else runs (jupyter/connect.py) may have been
    shut down, or restarted by its server.
    """

    owned: bool

    def gone(self) -> bool: ...
    def exit_status(self) -> int | None: ...  # negative: killed by that signal; None: unknown
    def replaced(self, wait: float, cancelled: Callable[[], bool]) -> bool: ...
    def refresh(self) -> None: ...  # find the kernel's process again (after a restart)
    @property
    def pid(self) -> int | None: ...


@dataclass
class Stop:
    """Why observation ends: the session's end reason, the exit code, a line for people."""

    reason: EndReason
    exit_code: int
    message: str


_UNLOAD = re.compile(r"\s*%unload_ext\s+gclog\s*")


def unloads(code: str | None) -> bool:
    """Is this cell the ``%unload_ext gclog`` the privacy notice tells the person to run?"""
    return code is not None and _UNLOAD.fullmatch(code) is not None


def cell_position(notebook: Path | None, code: str | None) -> int | None:
    """Where ``code`` is among the saved notebook's cells (0-based), if exactly one cell is it."""
    if notebook is None or code is None:
        return None
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells") or []
    except (OSError, ValueError, AttributeError):
        return None
    wanted = code.strip()
    found = [
        i
        for i, cell in enumerate(cells)
        if isinstance(cell, dict)
        and cell.get("cell_type") == "code"
        and "".join(cell.get("source") or "").strip() == wanted
    ]
    return found[0] if len(found) == 1 else None


def _ended_in(messages: list[dict[str, Any]]) -> set[str]:
    """The requests (msg_ids) that went idle in ``messages``."""
    return {
        (msg.get("parent_header") or {}).get("msg_id") or ""
        for msg in messages
        if msg.get("msg_type") == "status"
        and (msg.get("content") or {}).get("execution_state") == "idle"
    }


def death(status: int | None) -> str:
    """A kernel's exit status in words."""
    if status is None:
        return "exit status unknown"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


class Observation:
    """Observe one kernel, through its connection file, for one session."""

    def __init__(
        self,
        entry_point: EntryPoint,
        settings: Settings,
        paths: Paths,
        connection_file: Path,
        view: View,
        *,
        keep_outputs: bool,
        notebook_path: Path | None = None,
        recorder: Callable[[], Recorder] | None = None,
        on_cell: Callable[[Execution, dict[str, Any]], None] | None = None,
        held: LiveSessions | None = None,
    ) -> None:
        """``held``: a registry whose lock on this kernel the caller took already (a sidecar's
        prelude); observation releases it at the end as if it had taken it."""
        self.entry_point = entry_point
        self.settings = settings
        self.paths = paths
        self.connection_file = connection_file
        self.view = view
        self.on_cell = on_cell
        self.notebook_path = notebook_path
        self.observer = Observer(keep_outputs=keep_outputs)
        self.signals = SignalFlag()
        self.off = opt_out_reason(settings)
        self.live = held or LiveSessions(paths)
        self._make_recorder = recorder or (
            lambda: Recorder(entry_point, settings, paths, notebook_path=notebook_path)
        )
        self.recorder: Recorder
        self.subscription: Subscription | None = None
        self.watch: KernelWatch | None = None
        self.reason: EndReason = "failed"  # until someone says otherwise
        self._awaiting: dict[str, Execution] = {}  # sent by us: finished by idle *and* reply
        # run: a finished cell's resources are read at once, its record is made once the next
        # cell is sent (record_deferred), so the kernel does not wait for the record work.
        self.defer_records = False
        self._deferred: list[tuple[Execution, Any]] = []
        self._restart_announced = False
        self._shutdown_announced = False
        self._next_check = 0.0
        self._ends: collections.deque[float] = collections.deque(maxlen=2)  # of the last cells
        self._lagged = False  # the batch being handled is what came during a burst's lag
        self._started = False
        self._ended = False
        self._locked = held is not None
        self._restarts = 0  # since we started; after one, the extension is no longer loaded
        self._teardown: list[Callable[[], object]] = []
        self._guard: contextlib.ExitStack | None = None

    # -- the lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> Observation:
        """Lock the kernel (AlreadyObserved if another gclog has it), then make the recorder."""
        if not self.off and not self._locked:
            self.live.lock_kernel(str(self.connection_file))
            self._locked = True
        if not self.off:
            with contextlib.suppress(OSError):
                self.live.prune()  # entries of sessions that died without cleaning up
        try:
            self.recorder = self._make_recorder()
        except BaseException:
            self._unlock()
            raise
        return self

    def announce(self, **how: Any) -> str | None:
        """The privacy notice or the opt-out line (see privacy/disclosure.py); why it is off."""
        return announce(self.settings, self.paths, self.entry_point, **how)

    def on_exit(self, action: Callable[[], object]) -> None:
        """Run ``action`` after the session ended and the kernel is unlocked (run: shut it down)."""
        self._teardown.append(action)

    def start(
        self,
        subscription: Subscription,
        watch: KernelWatch,
        kernel_name: str | None,
        kernel_info: dict[str, Any],
        notebook: NotebookInfo,
        kernel_id: str | None = None,
    ) -> dict[str, Any]:
        """Record session_start; from here on Ctrl-C and SIGTERM are flags the loops check, so
        the clean-up, too, runs to its end."""
        self._guard = contextlib.ExitStack()
        self._guard.enter_context(self.signals.installed())
        # Every warning, from any thread, through the view: printed beside it, it would tear it.
        self._guard.enter_context(routed(lambda message: self.view.note(f"warning: {message}")))
        self.subscription, self.watch = subscription, watch
        start = self.recorder.start(
            kernel_name,
            kernel_info,
            notebook,
            kernel_pid=watch.pid,
            connection_file=str(self.connection_file),
            kernel_id=kernel_id,
            warn=lambda message: self.view.note(f"warning: {message}"),
        )
        self._started = True
        self.view.started(start)
        return start

    def __exit__(self, *exc: object) -> None:
        try:
            if self._started:
                self.record_deferred()
            self.view.stop()
            if self._started and not self._ended:
                self._ended = True
                self.recorder.end(self.reason)
        finally:
            try:
                self._unlock()
                for action in self._teardown:
                    action()
            finally:
                try:
                    self.recorder.close()
                finally:
                    if self.subscription is not None:
                        self.subscription.close()
                    if self._guard is not None:
                        self._guard.close()

    def _unlock(self) -> None:
        if self._locked:
            self._locked = False
            self.live.unlock_kernel(str(self.connection_file))

    # -- executions we send (run) ----------------------------------------------------------------------

    def expect(self, msg_id: str, code: str, index: int | None, cell_id: str | None) -> Execution:
        """A request we are about to send: known by its code even if aborted, finished when both
        its idle and its shell reply are in (see :meth:`pump`)."""
        execution = self.observer.expect(msg_id, code, index, cell_id)
        self._awaiting[msg_id] = execution
        self.recorder.cell_started(msg_id)
        self.view.cell_started(index, code)
        return execution

    def finish(self, execution: Execution) -> None:
        """Record an execution now, whatever is still missing (a reply that never came)."""
        self._awaiting.pop(execution.msg_id, None)
        self.observer.running.pop(execution.msg_id, None)
        if not execution.done:
            self._record(execution)

    def record_deferred(self) -> None:
        """Record the cells finished but not recorded yet (``defer_records``), in order."""
        while self._deferred:
            execution, resources = self._deferred.pop(0)
            self._make_record(execution, resources)

    # -- pumping -------------------------------------------------------------------------------------

    def pump(self, timeout_ms: int, shell: Any = None) -> Stop | None:
        """Wait up to ``timeout_ms`` for messages and handle them; a Stop when observation ends.

        ``shell`` is the shell channel of a client of ours (run), whose replies finish the
        executions we sent.
        """
        assert self.subscription is not None
        if shell is None:
            stop = self.handle(self.subscription.receive(timeout_ms))
            if stop is None and self._bursting():
                time.sleep(BURST_LAG_S)  # what comes meanwhile waits in the socket
                self._lagged = True  # for this one batch: what came during the lag
                stop = self.handle(self.subscription.receive(0))
        else:
            poller = zmq.Poller()
            poller.register(self.subscription.socket, zmq.POLLIN)
            poller.register(shell.socket, zmq.POLLIN)
            ready = dict(poller.poll(max(1, timeout_ms)))
            stop = self.handle(self.subscription.receive(0))
            if shell.socket in ready:
                while shell.msg_ready():
                    self._reply(shell.get_msg())
        if stop is None and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + POLL_MS / 1000
            stop = self.check_kernel()
            self.view.tick()
            self.recorder.tick()
        return stop

    def _bursting(self) -> bool:
        """Did the last two cells end within BURST_GAP_S of each other and of now, with no cell
        running? (Someone clicking through cells is no burst: each is taken as it ends.)"""
        if len(self._ends) < 2 or self.observer.running:
            return False
        last = self._ends[1]
        return last - self._ends[0] < BURST_GAP_S and time.monotonic() - last < BURST_GAP_S

    def drain(self, seconds: float) -> None:
        """Take in what is already on its way before stopping, so no finished cell is lost.

        Bounded: a kernel that never stops printing must not keep us from stopping.
        """
        assert self.subscription is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.signals.count < 2:
            batch = self.subscription.receive(100)
            if not batch:
                return
            self.handle(batch)

    def handle(self, messages: list[dict[str, Any]]) -> Stop | None:
        """Feed iopub messages to the observer; record what finished or happened.

        A cell that began and ended during a burst's lag gets no resources: a reading taken
        after it (and after the cells beside it) would say nothing true of it.
        """
        whole = _ended_in(messages) if self._lagged else set()
        self._lagged = False
        if not messages:
            return None
        with self.recorder.session.gathered():
            return self._handle(messages, whole)

    def _handle(self, messages: list[dict[str, Any]], whole: set[str]) -> Stop | None:
        stop = None
        for msg in messages:
            result = self.observer.handle(msg)
            if isinstance(result, KernelRestarted):  # a new kernel's first message, not taken:
                self._restarted()  # the old kernel is done with first, then the message is read
                result = self.observer.handle(msg)
            msg_type = msg.get("msg_type")
            content = msg.get("content") or {}
            if msg_type == "shutdown_reply":
                self._restart_announced = bool(content.get("restart"))
                self._shutdown_announced = not self._restart_announced
            elif msg_type == "display_data" and self._is_stop(msg):
                stop = Stop("unloaded", ExitCode.OK, "stopped by %unload_ext gclog")
            if stop is not None and msg_type == "display_data":
                self._cut_short(msg)  # the %unload_ext cell: it ends once we have
            if msg_type == "status" and content.get("execution_state") == "busy":
                msg_id = (msg.get("parent_header") or {}).get("msg_id")
                started = self.observer.running.get(msg_id)
                if started is not None and msg_id not in self._awaiting and msg_id not in whole:
                    self.recorder.cell_started(started.msg_id)
            if isinstance(result, Execution):
                self._idle(result)
                if self._restarts and unloads(result.code):
                    # A restarted kernel does not have the extension loaded: IPython says so,
                    # and the command still means what the notice told the person it means.
                    stop = Stop("unloaded", ExitCode.OK, "stopped by %unload_ext gclog")
        return stop

    def began(self, cell: dict[str, Any]) -> None:
        """A cell that began before we subscribed, as the kernel told our parent (the
        ``%load_ext gclog`` that started us): recorded whole when it ends."""
        msg_id = str(cell.get("msg_id") or "")
        if not msg_id or msg_id in self.observer.running:
            return
        count = cell.get("execution_count")
        self.observer.running[msg_id] = Execution(
            msg_id=msg_id,
            code=str(cell.get("code") or ""),
            saw_input=True,
            queued_at=parse_iso(str(cell.get("queued_at") or "")),
            started_at=parse_iso(str(cell.get("started_at") or "")),
            execution_count=count if isinstance(count, int) else None,
            cell_id=cell.get("cell_id") if isinstance(cell.get("cell_id"), str) else None,
        )
        self.recorder.cell_started(msg_id)

    def _cut_short(self, msg: dict[str, Any]) -> None:
        """Record the cell that sent ``msg`` now, as ended at that message: it cannot end
        before we do (``%unload_ext`` waits for us)."""
        msg_id = (msg.get("parent_header") or {}).get("msg_id")
        execution = self.observer.running.pop(msg_id, None)
        if execution is None or execution.done:
            return
        execution.ended_at = (msg.get("header") or {}).get("date")
        execution.idle = True
        self._awaiting.pop(execution.msg_id, None)
        self._record(execution)

    def _idle(self, execution: Execution) -> None:
        self._ends.append(time.monotonic())
        if execution.silent:
            self.recorder.cell_dropped(execution.msg_id)
        elif execution.msg_id not in self._awaiting or execution.reply_status is not None:
            self._awaiting.pop(execution.msg_id, None)
            self._record(execution, defer=self.defer_records)

    def _reply(self, msg: dict[str, Any]) -> None:
        execution = self._awaiting.get((msg.get("parent_header") or {}).get("msg_id"))
        if execution is None:
            return  # a reply to something else we asked (kernel_info)
        execution.replied(msg)
        if execution.idle:
            self._awaiting.pop(execution.msg_id, None)
            self._record(execution, defer=self.defer_records)

    def _record(self, execution: Execution, defer: bool = False) -> None:
        """Record a finished execution; ``defer``: read its resources now, record it later."""
        if defer:
            self._deferred.append((execution, self.recorder.cell_ended(execution.msg_id)))
            execution.done = True
            return
        self.record_deferred()  # records stay in the order the cells ran
        self._make_record(execution, ...)

    def _make_record(self, execution: Execution, resources: Any) -> None:
        record = self.recorder.cell_finished(
            execution.msg_id, execution.cell_fields(), execution.outputs, resources
        )
        execution.done = True
        self.view.cell(record)
        if self.on_cell is not None:
            self.on_cell(execution, record)

    def _is_stop(self, msg: dict[str, Any]) -> bool:
        marker = ((msg.get("content") or {}).get("metadata") or {}).get("gclog") or {}
        return isinstance(marker, dict) and marker.get("stop") == self.recorder.session.id

    # -- the kernel going away -------------------------------------------------------------------------

    def check_kernel(self) -> Stop | None:
        """The kernel's process ended: a shutdown, a restart, or a death."""
        watch = self.watch
        if watch is None or not watch.gone():
            return None
        restarts = self._restarts
        stop = self._take_what_is_left()
        if stop is not None or self._restarts != restarts:
            # Asked to stop, or checked late: the new kernel's messages told of the restart.
            return stop
        self.record_deferred()
        if not watch.owned and (self._shutdown_announced or not self.connection_file.exists()):
            self._kernel_gone("the kernel was shut down")
            self.recorder.kernel_event(
                event="shutdown", exit_code=None, signal=None, cell_index=None
            )
            return Stop("completed", ExitCode.OK, "the kernel was shut down")
        status = watch.exit_status()
        why = f" ({death(status)})" if status is not None else ""
        index = None
        if not self._restart_announced:
            index = self._kernel_gone(f"Kernel died while executing the cell{why}")
            self.recorder.kernel_event(
                event="died",
                exit_code=status if status is not None and status >= 0 else None,
                signal=-status if status is not None and status < 0 else None,
                cell_index=index,
            )
        if not watch.owned:
            if not self._restart_announced:
                self.view.note("the kernel died; waiting a moment in case it is restarted")
            wait = ANNOUNCED_RESTART_S if self._restart_announced else self.settings.restart_grace
            if watch.replaced(wait, cancelled=lambda: self.signals.received is not None):
                self._restarted()
                return None
        where = f" in {cell_label(index)}" if index is not None else ""
        return Stop("kernel_died", ExitCode.KERNEL_DIED, f"the kernel died{where}{why}")

    def _take_what_is_left(self) -> Stop | None:
        """Messages the kernel sent before it went (they are in our socket already); the first
        Stop they hold (an ``%unload_ext gclog``)."""
        assert self.subscription is not None
        deadline = time.monotonic() + DRAIN_S
        stop = None
        while time.monotonic() < deadline and (batch := self.subscription.receive(0)):
            found = self.handle(batch)
            stop = stop or found
        return stop

    def _kernel_gone(self, why: str) -> int | None:
        """Cells the kernel was running when it went away: recorded, marked as such; the index of
        the last of them, if known."""
        index = None
        now = datetime.now(timezone.utc)
        for execution in self._running():
            if execution.started_at is None and execution.msg_id not in self._awaiting:
                continue  # never began: nothing to say about it
            self.observer.kernel_gone(execution, why, now)
            if execution.index is None:  # attach: the cell of the notebook as saved, if known
                execution.index = cell_position(self.notebook_path, execution.code)
            index = execution.index
            self._awaiting.pop(execution.msg_id, None)
            self._record(execution)
        self.observer.running.clear()
        return index

    def _running(self) -> Iterator[Execution]:
        seen = set()
        for execution in [*self.observer.running.values(), *self._awaiting.values()]:
            if execution.msg_id not in seen and not execution.done:
                seen.add(execution.msg_id)
                yield execution

    def _restarted(self) -> None:
        self.record_deferred()
        self._restarts += 1
        self._restart_announced = self._shutdown_announced = False
        self._kernel_gone("the kernel restarted")
        self.observer.forget_identity()
        if self.watch is not None:
            self.watch.refresh()
            self.recorder.kernel_changed(self.watch.pid)
        self.recorder.kernel_event(event="restarted", exit_code=None, signal=None, cell_index=None)
        self.recorder.tick(force=True)  # `gclog status` shows the new kernel's pid at once
        self.view.note("the kernel restarted; still observing")
