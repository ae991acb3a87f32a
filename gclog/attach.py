"""``gclog attach``: observe a kernel that someone else drives, through its iopub channel only.

gclog never sends anything to an attached kernel: it subscribes to iopub (a passive SUB socket),
and watches the kernel's process (or, for a kernel on another machine, its heartbeat) to tell a
restart from a death. Every execution any client sends is recorded through the same observer and
recorder as ``gclog run``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import select
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil
import zmq
from rich.console import Console

from gclog.attach_view import LineView, LiveView
from gclog.config import Paths, Settings
from gclog.connect import Target, find_kernel_process, heartbeat, is_alive, open_target
from gclog.errors import ExitCode, GclogError
from gclog.observer import Execution, KernelRestarted, Observer
from gclog.privacy.disclosure import announce
from gclog.recorder import Recorder
from gclog.records import EndReason, Source, parse_iso
from gclog.registry import AlreadyObserved, Registry
from gclog.samplers.pool import describe_setup
from gclog.signals import SignalFlag

POLL_MS = 100
DRAIN_S = 1.0  # at most this long to take in what is in flight when told to stop
OBSERVER_NICENESS = 10
WELCOME_TIMEOUT_S = 2.0  # kernels before ipykernel 7 never send iopub_welcome
ANNOUNCED_RESTART_S = 60.0  # a requested restart: wait as long as a kernel may take to start
HEARTBEAT_EVERY_S = 1.0
HEARTBEAT_MISSES = 3


# -- the subscription ---------------------------------------------------------------------------


class Subscription:
    """A passive iopub subscriber that knows when it is connected (ipykernel's iopub_welcome).

    It decodes messages itself: checking the signature and parsing four small JSON frames takes a
    tenth of what jupyter_client's general deserializer does (which walks every field for dates),
    and an observer that may sit beside a busy kernel should cost it as little as possible.
    """

    def __init__(self, info: dict[str, Any]) -> None:
        key = str(info.get("key", "")).encode()
        scheme = str(info.get("signature_scheme", "hmac-sha256"))
        digest = getattr(hashlib, scheme.partition("-")[2] or "sha256", hashlib.sha256)
        self._signer = hmac.new(key, digestmod=digest) if key else None
        self.topic = f"gclog-{uuid.uuid4().hex}"
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.linger = 0
        self.socket.rcvhwm = 0  # never drop a message on our side, however far behind we fall
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.setsockopt(zmq.SUBSCRIBE, self.topic.encode())
        self.socket.connect(f"{info['transport']}://{info['ip']}:{info['iopub_port']}")
        self.early: list[dict[str, Any]] = []

    def wait_welcome(self, timeout: float) -> bool:
        """True once the kernel confirmed our topic; messages seen meanwhile are kept."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for msg in self.receive(int(left * 1000)):
                if msg["msg_type"] == "iopub_welcome":
                    if msg["content"].get("subscription") == self.topic:
                        return True
                else:
                    self.early.append(msg)
        return False

    def receive(self, timeout_ms: int) -> list[dict[str, Any]]:
        if not self.socket.poll(timeout_ms):
            return []
        messages = []
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return messages
            msg = self._decode(frames)
            if msg is not None:
                messages.append(msg)

    def _decode(self, frames: list[bytes]) -> dict[str, Any] | None:
        """The wire format: topics, <IDS|MSG>, signature, header, parent, metadata, content."""
        try:
            start = frames.index(b"<IDS|MSG>") + 1
            signature, *parts = frames[start : start + 5]
            if self._signer is not None:
                signer = self._signer.copy()
                for part in parts:
                    signer.update(part)
                if not hmac.compare_digest(signer.hexdigest().encode(), signature):
                    return None  # not signed with this kernel's key: not ours to record
            header, parent, metadata, content = (json.loads(p) for p in parts)
        except (ValueError, TypeError):
            return None
        for part in (header, parent):
            if isinstance(part, dict) and isinstance(part.get("date"), str):
                part["date"] = parse_iso(part["date"]) or part["date"]
        return {
            "header": header,
            "parent_header": parent,
            "metadata": metadata,
            "content": content,
            "msg_type": header.get("msg_type") if isinstance(header, dict) else None,
        }

    def close(self) -> None:
        self.socket.close()


# -- observing ------------------------------------------------------------------------------------


class AttachView(Protocol):
    def started(self, target: Target, session_id: str) -> None: ...
    def cell(self, record: dict[str, Any]) -> None: ...
    def note(self, message: str) -> None: ...
    def tick(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class Outcome:
    reason: EndReason
    exit_code: int
    message: str


class Attachment:
    """One attach session: subscribe, record until the kernel ends or we are told to stop."""

    def __init__(
        self, target: Target, recorder: Recorder, view: AttachView, signals: SignalFlag
    ) -> None:
        self.target = target
        self.recorder = recorder
        self.view = view
        self.signals = signals
        self.observer = Observer(keep_outputs=False)
        self.restart_announced = False
        self.shutdown_announced = False
        self._heartbeat_misses = 0
        self._next_heartbeat = 0.0
        self._next_check = 0.0

    def run(self, on_ready: Any = None) -> Outcome:
        subscription = Subscription(self.target.info)
        try:
            confirmed = subscription.wait_welcome(WELCOME_TIMEOUT_S)
            self._start_session()
            if not confirmed:
                self.view.note("the kernel did not confirm the subscription (ipykernel < 7?)")
            if on_ready is not None:
                on_ready(self.recorder.session.id)
            stop = self._handle(subscription.early)
            while stop is None:
                if self.signals.received:
                    self._drain(subscription)
                    stop = Outcome("detached", ExitCode.OK, "detached")
                    break
                stop = self._handle(subscription.receive(POLL_MS))
                if stop is None and time.monotonic() >= self._next_check:
                    self._next_check = time.monotonic() + POLL_MS / 1000
                    stop = self._check_kernel()
                    self.view.tick()
                    self.recorder.tick()
            return stop
        finally:
            subscription.close()

    def _start_session(self) -> None:
        info = self.target.info
        name = info.get("kernel_name") or None
        record = self.recorder.start(
            name,
            {"language_info": {"name": _kernelspec_language(name)}},
            {
                "name": Path(self.recorder.entry.notebook).name
                if self.recorder.entry.notebook
                else None,
                "code_cells": None,
            },
            kernel_pid=self.target.process.pid if self.target.process else None,
            connection_file=str(self.target.connection_file),
            kernel_id=self.target.kernel_id,
            warn=lambda message: self.view.note(f"warning: {message}"),
        )
        self.view.started(self.target, self.recorder.session.id)
        self.view.note(describe_setup(record["metrics"]))

    def _handle(self, messages: list[dict[str, Any]]) -> Outcome | None:
        outcome = None
        for msg in messages:
            msg_type = msg.get("msg_type")
            content = msg.get("content") or {}
            if msg_type == "shutdown_reply":
                self.restart_announced = bool(content.get("restart"))
                self.shutdown_announced = not self.restart_announced
            elif msg_type == "display_data" and self._is_stop(msg):
                outcome = Outcome("unloaded", ExitCode.OK, "stopped by %unload_ext gclog")
            result = self.observer.handle(msg)
            if msg_type == "status" and content.get("execution_state") == "busy":
                started = self.observer.running.get((msg.get("parent_header") or {}).get("msg_id"))
                if started is not None:
                    self.recorder.cell_started(started)
            if isinstance(result, Execution):
                if result.silent:
                    self.recorder.cell_dropped(result)
                else:
                    self.view.cell(self.recorder.cell_finished(result))
            elif isinstance(result, KernelRestarted):
                self._restarted()
        return outcome

    def _is_stop(self, msg: dict[str, Any]) -> bool:
        marker = ((msg.get("content") or {}).get("metadata") or {}).get("gclog") or {}
        return isinstance(marker, dict) and marker.get("stop") == self.recorder.session.id

    def _drain(self, subscription: Subscription) -> None:
        """Take in what is already on its way before stopping, so no finished cell is lost.

        Bounded: a kernel that never stops printing must not keep us from detaching.
        """
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and self.signals.count < 2:
            batch = subscription.receive(100)
            if not batch:
                return
            self._handle(batch)

    def _restarted(self) -> None:
        self.restart_announced = self.shutdown_announced = False
        self.target.process = find_kernel_process(self.target.connection_file)
        self.recorder.kernel_changed(self.target.process.pid if self.target.process else None)
        self.observer.forget_identity()
        self.recorder.kernel_event(event="restarted", exit_code=None, signal=None, cell_index=None)
        self.view.note("the kernel restarted; still observing")

    def _check_kernel(self) -> Outcome | None:
        if self.target.process is not None:
            if is_alive(self.target.process):
                return None
            return self._kernel_gone()
        now = time.monotonic()
        if now < self._next_heartbeat:
            return None
        self._next_heartbeat = now + HEARTBEAT_EVERY_S
        if heartbeat(self.target.info, zmq.Context.instance(), timeout=HEARTBEAT_EVERY_S):
            self._heartbeat_misses = 0
            return None
        self._heartbeat_misses += 1
        return self._kernel_gone() if self._heartbeat_misses >= HEARTBEAT_MISSES else None

    def _kernel_gone(self) -> Outcome | None:
        """The kernel's process ended: a restart, a shutdown, or a death."""
        if self.shutdown_announced or not self.target.connection_file.exists():
            self._flush_running("the kernel was shut down")
            self.recorder.kernel_event(
                event="shutdown", exit_code=None, signal=None, cell_index=None
            )
            return Outcome("completed", ExitCode.OK, "the kernel was shut down")
        if not self.restart_announced:
            self._flush_running("the kernel died")
            self.recorder.kernel_event(event="died", exit_code=None, signal=None, cell_index=None)
            self.view.note("the kernel died; waiting a moment in case it is restarted")
        wait = (
            ANNOUNCED_RESTART_S if self.restart_announced else self.recorder.settings.restart_grace
        )
        if self._replacement(wait):
            self._restarted()
            return None
        return Outcome("kernel_died", ExitCode.KERNEL_DIED, "the kernel died")

    def _replacement(self, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not self.signals.received:
            if self.target.process is not None:
                if find_kernel_process(self.target.connection_file) is not None:
                    return True
            elif heartbeat(self.target.info, zmq.Context.instance(), timeout=HEARTBEAT_EVERY_S):
                self._heartbeat_misses = 0
                return True
            time.sleep(0.2)
        return False

    def _flush_running(self, why: str) -> None:
        """Cells the kernel was running when it went away: recorded, marked as such."""
        for execution in list(self.observer.running.values()):
            if execution.started_at is None:
                continue
            execution.error = {"ename": "DeadKernelError", "evalue": why, "traceback": []}
            self.view.cell(self.recorder.cell_finished(execution))
        self.observer.running.clear()


def _kernelspec_language(name: str | None) -> str | None:
    if not name:
        return None
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(name).language
    except (NoSuchKernel, Exception):
        return None


# -- the command ----------------------------------------------------------------------------------


def notebook_of(process: psutil.Process | None) -> str | None:
    """The notebook a Jupyter server started this kernel for (it sets JPY_SESSION_NAME)."""
    if process is None:
        return None
    try:
        name = process.environ().get("JPY_SESSION_NAME")
        if not name:
            return None
        beside = Path(process.cwd()) / Path(name).name
        return str(beside) if beside.is_file() else name
    except (psutil.Error, OSError):
        return None


def _announce_ready(line: str, paths: Paths, session_id: str) -> None:
    """Tell the parent we are observing, then send our own output to a log file, not its pipe."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    logs = paths.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = os.open(logs / f"{session_id}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, sys.stdout.fileno())
    os.dup2(log, sys.stderr.fileno())
    os.close(log)


def attach(
    kernel: str | None,
    existing: bool,
    *,
    settings: Settings,
    paths: Paths,
    console: Console,
    ready_pipe: bool = False,
    source: Source = "attach",
    notebook: str | None = None,
    kernel_pid: int | None = None,
) -> int:
    """Observe a kernel in the foreground until it ends or we are stopped; the exit code."""
    target = open_target(kernel, existing, kernel_pid)
    if not ready_pipe:  # a sidecar's parent (the extension, --detach) has told the user already
        off = announce(settings, paths, "attach")
        if off:
            return ExitCode.OK
    with contextlib.suppress(OSError):
        # The observer yields the CPU to the kernel and its front end: it needs ~1 ms per cell,
        # and its socket keeps what arrives while it waits.
        os.nice(OBSERVER_NICENESS)
    registry = Registry(paths)
    try:
        registry.lock_kernel(str(target.connection_file))
    except AlreadyObserved as exc:
        holder = exc.holder
        if ready_pipe and holder is not None:
            sys.stdout.write(f"observed {holder.session_id} {holder.pid} {holder.source}\n")
            sys.stdout.flush()
        console.print(f"gclog: {exc}; not attaching again", soft_wrap=True)
        return ExitCode.OK
    notebook = notebook or notebook_of(target.process)
    recorder = Recorder(
        source,
        settings,
        paths,
        notebook_path=Path(notebook) if notebook else None,
        keep_cells=False,
    )
    if ready_pipe:
        view: AttachView = LineView(console, quiet=True)
    elif console.is_terminal:
        view = LiveView(console)
    else:
        view = LineView(console)
    signals = SignalFlag()
    reason: EndReason = "failed"
    # Installed through the clean-up too: a second Ctrl-C cannot cut the last records short.
    with signals.installed():
        try:
            ready = (
                (lambda sid: _announce_ready(f"ready {sid}", paths, sid)) if ready_pipe else None
            )
            outcome = Attachment(target, recorder, view, signals).run(on_ready=ready)
            reason = outcome.reason
        finally:
            view.stop()
            try:
                recorder.end(reason)
            finally:
                recorder.close()
                registry.unlock_kernel(str(target.connection_file))
            if ready_pipe:  # a sidecar's log is kept only if it has something to say
                log = paths.state_dir / "logs" / f"{recorder.session.id}.log"
                with contextlib.suppress(OSError):
                    if log.stat().st_size == 0:
                        log.unlink()
    view.note(
        f"{outcome.message}; {recorder.entry.cells} cells recorded "
        f"(gclog export --session {recorder.session.id})"
    )
    return outcome.exit_code


@dataclass
class Background:
    session_id: str
    pid: int
    adopted: bool  # another gclog already observed the kernel: this is its session
    source: str = "attach"  # which kind of gclog session that is (run, attach, extension)


def start_in_background(
    connection_file: Path,
    source: Source,
    notebook: str | None = None,
    kernel_pid: int | None = None,
    settings_env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Background:
    """Start ``gclog attach`` as its own process; return once it observes the kernel."""
    argv = [sys.executable, "-m", "gclog", "attach", str(connection_file), "--ready-pipe"]
    argv += ["--source", source]
    if notebook:
        argv += ["--notebook", notebook]
    if kernel_pid:
        argv += ["--kernel-pid", str(kernel_pid)]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **(settings_env or {})},
    )
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline().decode("utf-8", "replace").strip()
            break
        if proc.poll() is not None:
            break
    proc.stdout.close()
    parts = line.split()
    if parts[:1] == ["ready"] and len(parts) == 2:
        proc.stderr.close()
        return Background(session_id=parts[1], pid=proc.pid, adopted=False)
    if parts[:1] == ["observed"] and len(parts) == 4:
        proc.wait(timeout=10)
        proc.stderr.close()
        return Background(session_id=parts[1], pid=int(parts[2]), adopted=True, source=parts[3])
    if proc.poll() is None:
        proc.kill()
    error = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
    proc.stderr.close()
    proc.wait()
    reason = error[-1].removeprefix("gclog: error: ") if error else "it did not start in time"
    raise GclogError(f"could not start observing the kernel: {reason}")
