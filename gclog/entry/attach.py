"""``gclog attach``: observe a kernel that someone else drives, through its iopub channel only.

gclog never runs anything in an attached kernel: it subscribes to iopub (a passive SUB socket),
and watches the kernel's process (or, for a kernel on another machine, its heartbeat) to tell a
restart from a death. The one request it sends is a ``kernel_info_request`` on the control
channel, for the kernel's language and versions: no code runs, nothing enters the history. The observation is the same as ``gclog run``'s (gclog/observe/observation.py);
what is attach's own is waiting until the kernel ends or we are told to stop, and running as a
sidecar (gclog/entry/sidecar.py) for the extension and ``--detach``.
"""

from __future__ import annotations

import contextlib
import gc
import os
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from gclog.config import Paths, Settings
from gclog.entry.prelude import Prelude, log_path
from gclog.entry.views import attach_view
from gclog.errors import ExitCode
from gclog.jupyter.connect import (
    Target,
    ask_kernel_info,
    code_cells,
    kernelspec_language,
    notebook_of,
    open_target,
)
from gclog.jupyter.server import notebook_of_kernel
from gclog.jupyter.subscription import Subscription
from gclog.observe.observation import CONNECT_TIMEOUT_S, DRAIN_S, POLL_MS, Observation, Stop
from gclog.pipeline.recorder import Recorder
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
    entry_point: EntryPoint = "attach",
    notebook: str | None = None,
    kernel_pid: int | None = None,
    prelude: Prelude | None = None,
    loading_cell: dict[str, Any] | None = None,
    server: str | None = None,
) -> int:
    """Observe a kernel in the foreground until it ends or we are stopped; the exit code.

    ``prelude``: we are a sidecar that already told its parent it is observing
    (gclog/entry/prelude.py): the kernel's lock and subscription are held there.
    ``loading_cell``: the ``%load_ext`` cell that started us, as the kernel saw it begin.
    """
    target = open_target(kernel, existing, kernel_pid)
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
        attach_view(console, target.label, quiet=prelude is not None),
        keep_outputs=False,
        notebook_path=notebook_path,
        recorder=lambda: Recorder(
            entry_point,
            settings,
            paths,
            notebook_path=notebook_path,
            keep_cells=False,
            session_id=prelude.session_id if prelude else None,
        ),
        held=prelude.live if prelude else None,
    )
    try:
        with observation:
            if prelude is None and observation.announce():  # the notice, or opted out
                return ExitCode.OK
            stop = _observe(observation, target, notebook_path, prelude, loading_cell)
    except AlreadyObserved as exc:
        console.print(f"gclog: {exc}; not attaching again", soft_wrap=True)
        return ExitCode.OK
    session_id = observation.recorder.session.id
    if prelude is not None:  # a sidecar's log is kept only if it has something to say
        with contextlib.suppress(OSError):
            log = log_path(paths, session_id)
            if log.stat().st_size == 0:
                log.unlink()
    observation.view.note(
        f"{stop.message}; {observation.recorder.entry.cells} cells recorded "
        f"(gclog export --session {session_id})"
    )
    if observation.recorder.lost and stop.exit_code == ExitCode.OK:
        return ExitCode.RECORDS_LOST  # said in one line by the recorder; never "done" over it
    return stop.exit_code


def _observe(
    observation: Observation,
    target: Target,
    notebook: Path | None,
    prelude: Prelude | None,
    loading_cell: dict[str, Any] | None,
) -> Stop:
    """Subscribe, start the session, and take in messages until observation ends."""
    if prelude is not None:
        subscription, confirmed = prelude.subscription, prelude.confirmed
    else:
        subscription = Subscription(target.info)
        confirmed = subscription.wait_connected(CONNECT_TIMEOUT_S)
    name = target.info.get("kernel_name") or None
    # kernel_info is no execute request: it runs no code in the person's kernel.
    info = ask_kernel_info(target.info) or {"language_info": {"name": kernelspec_language(name)}}
    observation.start(
        subscription,
        target,
        name,
        info,
        {
            "name": notebook.name if notebook else None,
            "code_cells": code_cells(notebook) if notebook else None,
        },
        kernel_id=target.kernel_id,
    )
    if loading_cell is not None:
        observation.began(loading_cell)
    if not confirmed:
        observation.view.note("the kernel did not confirm the subscription (ipykernel < 7?)")
    stop = observation.handle(subscription.early)
    # What start-up made lives as long as we do: the collector need not look at it again.
    gc.freeze()
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
