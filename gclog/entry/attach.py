"""``gclog attach``: observe a kernel that someone else drives, through its iopub channel only.

gclog never sends anything to an attached kernel: it subscribes to iopub (a passive SUB socket),
and watches the kernel's process (or, for a kernel on another machine, its heartbeat) to tell a
restart from a death. The observation is the same as ``gclog run``'s (gclog/observe/observation.py);
what is attach's own is waiting until the kernel ends or we are told to stop, and running as a
sidecar (gclog/entry/sidecar.py) for the extension and ``--detach``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil
from rich.console import Console

from gclog.config import Paths, Settings
from gclog.entry.sidecar import ReadyPipe
from gclog.entry.views import attach_view
from gclog.errors import ExitCode
from gclog.jupyter.connect import Target, kernelspec_language, notebook_of, open_target
from gclog.jupyter.server import notebook_of_kernel
from gclog.jupyter.subscription import Subscription
from gclog.observe.observation import CONNECT_TIMEOUT_S, DRAIN_S, POLL_MS, Observation, Stop
from gclog.pipeline.recorder import Recorder
from gclog.privacy.optout import opt_out_line
from gclog.records import EntryPoint
from gclog.store.live import AlreadyObserved

OBSERVER_NICENESS = 10


def attach(
    kernel: str | None,
    existing: bool,
    *,
    settings: Settings,
    paths: Paths,
    console: Console,
    ready_pipe: bool = False,
    disclose: bool = False,
    entry_point: EntryPoint = "attach",
    notebook: str | None = None,
    kernel_pid: int | None = None,
    server: str | None = None,
) -> int:
    """Observe a kernel in the foreground until it ends or we are stopped; the exit code.

    ``ready_pipe``: we are a sidecar, and tell our parent how it went (gclog/entry/sidecar.py);
    ``disclose``: the parent wants the privacy notice, to show it in the person's cell.
    """
    target = open_target(kernel, existing, kernel_pid)
    pipe = ReadyPipe() if ready_pipe else None
    with contextlib.suppress(OSError):
        # The observer yields the CPU to the kernel and its front end: it needs ~1 ms per cell,
        # and its socket keeps what arrives while it waits.
        os.nice(OBSERVER_NICENESS)
    notebook = notebook or _notebook_from_server(server, target) or notebook_of(target.process)
    notebook_path = Path(notebook) if notebook else None
    observation = Observation(
        entry_point,
        settings,
        paths,
        target.connection_file,
        attach_view(console, target.label, quiet=ready_pipe),
        keep_outputs=False,
        recorder=lambda: Recorder(
            entry_point, settings, paths, notebook_path=notebook_path, keep_cells=False
        ),
    )
    try:
        with observation:
            off = observation.off
            if pipe is None:
                observation.announce()  # the notice, or the opt-out line
            elif off:  # a sidecar: its parent shows what it says
                pipe.off(opt_out_line(off))
            elif disclose:  # the parent has told the person already, unless it asks
                observation.announce(write=pipe.say, every_time=True)
            if off:
                return ExitCode.OK
            stop = _observe(observation, target, notebook_path, pipe)
    except AlreadyObserved as exc:
        if pipe is not None and exc.holder is not None:
            pipe.observed(exc.holder.session_id, exc.holder.pid, exc.holder.source)
        console.print(f"gclog: {exc}; not attaching again", soft_wrap=True)
        return ExitCode.OK
    session_id = observation.recorder.session.id
    if pipe is not None:  # a sidecar's log is kept only if it has something to say
        with contextlib.suppress(OSError):
            log = _log(paths, session_id)
            if log.stat().st_size == 0:
                log.unlink()
    observation.view.note(
        f"{stop.message}; {observation.recorder.entry.cells} cells recorded "
        f"(gclog export --session {session_id})"
    )
    return stop.exit_code


def _observe(
    observation: Observation, target: Target, notebook: Path | None, pipe: ReadyPipe | None
) -> Stop:
    """Subscribe, start the session, and take in messages until observation ends."""
    subscription = Subscription(target.info)
    confirmed = subscription.wait_connected(CONNECT_TIMEOUT_S)
    name = target.info.get("kernel_name") or None
    observation.start(
        subscription,
        target,
        name,
        {"language_info": {"name": kernelspec_language(name)}},
        {"name": notebook.name if notebook else None, "code_cells": None},
        kernel_id=target.kernel_id,
    )
    if not confirmed:
        observation.view.note("the kernel did not confirm the subscription (ipykernel < 7?)")
    session_id = observation.recorder.session.id
    if pipe is not None:
        pipe.ready(session_id, _log(observation.paths, session_id))
    stop = observation.handle(subscription.early)
    while stop is None:
        if observation.signals.received:
            observation.drain(DRAIN_S)
            stop = Stop("detached", ExitCode.OK, "detached")
            break
        stop = observation.pump(POLL_MS)
    observation.reason = stop.reason
    return stop


def _notebook_from_server(server: str | None, target: Target) -> str | None:
    """``--server URL``: ask the Jupyter server which notebook the kernel is for."""
    if server is None or target.kernel_id is None:
        return None
    cwd = None
    with contextlib.suppress(OSError, psutil.Error):
        cwd = Path(target.process.cwd()) if target.process else None
    return notebook_of_kernel(server, target.kernel_id, cwd)


def _log(paths: Paths, session_id: str) -> Path:
    return paths.state_dir / "logs" / f"{session_id}.log"
