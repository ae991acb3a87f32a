"""A sidecar's first moments: everything its parent (the person's cell) waits for, and no more.

``%load_ext gclog`` keeps the person's cell busy until the sidecar answers on its ready pipe, so
the sidecar answers as soon as it can say something true, before it imports the recorder, the
observer and the rest (about half a second here)::

    opted out? → lock the kernel → the privacy notice → subscribe to iopub → ready <session id>

Once subscribed, nothing the kernel sends is lost: the SUB socket keeps every message (no
high-water mark) until the observer, imported and started after ``ready``, reads them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from gclog.config import Paths, Settings
from gclog.entry.sidecar import ReadyPipe
from gclog.jupyter.connect import read_connection
from gclog.jupyter.subscription import Subscription
from gclog.privacy.disclosure import announce
from gclog.privacy.optout import opt_out_line, opt_out_reason
from gclog.store.live import AlreadyObserved, LiveSession, LiveSessions

CONNECT_TIMEOUT_S = 2.0  # kernels before ipykernel 7 never welcome a subscriber


@dataclass
class Prelude:
    """What the sidecar holds once it said ``ready``: the kernel's lock, its subscription."""

    session_id: str
    live: LiveSessions  # holds this kernel's lock
    subscription: Subscription
    confirmed: bool  # the kernel welcomed our subscription (ipykernel 7)


def begin(
    connection_file: Path,
    settings: Settings,
    paths: Paths,
    pipe: ReadyPipe,
    *,
    entry_point: str,
    disclose: bool,
) -> Prelude | None:
    """Say how it went on ``pipe``; the Prelude to observe with, or None when there is nothing
    to do (recording is off, or another gclog observes the kernel: said so on the pipe)."""
    off = opt_out_reason(settings)
    if off:
        pipe.off(opt_out_line(off))
        return None
    info = read_connection(connection_file)  # a bad file: GclogError, before any lock is taken
    live = LiveSessions(paths)
    try:
        live.lock_kernel(str(connection_file))
    except AlreadyObserved as exc:
        if exc.holder is not None:
            pipe.observed(exc.holder.session_id, exc.holder.pid, exc.holder.source)
            return None
        raise
    try:
        if disclose:  # the parent shows it in the person's cell
            announce(settings, paths, entry_point, write=pipe.say, every_time=True)
        subscription = Subscription(info)
        confirmed = subscription.wait_connected(CONNECT_TIMEOUT_S)
    except BaseException:
        live.unlock_kernel(str(connection_file))
        raise
    session_id = str(uuid.uuid4())
    # `gclog status` lists it from now on; the recorder rewrites the entry as it records.
    live.write(
        LiveSession.for_this_process(session_id, entry_point, connection_file=str(connection_file))
    )
    pipe.ready(session_id, log_path(paths, session_id))
    return Prelude(session_id, live, subscription, confirmed)


def log_path(paths: Paths, session_id: str) -> Path:
    """Where a sidecar's own output goes once it said ``ready``."""
    return paths.state_dir / "logs" / f"{session_id}.log"
