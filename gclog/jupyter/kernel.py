"""Starting, watching and stopping a kernel that gclog owns (``gclog run``).

The kernel is launched with ``JPY_PARENT_PID`` set to gclog's pid (jupyter_client does this), so
ipykernel exits by itself if gclog is killed outright: no kernel outlives gclog.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_core.paths import jupyter_runtime_dir

from gclog.errors import GclogError
from gclog.text import one_line

# jupyter_client logs a traceback of its own when a kernel fails; gclog reports it in one line.
logging.getLogger("traitlets").setLevel(logging.CRITICAL)


# ipykernel 7 warns on every start about TCP on localhost, where jupyter_client itself put it.
_NOISE = ("Kernel is running over TCP without encryption",)


class KernelOutput(threading.Thread):
    """Forwards the kernel process's own stdout/stderr (C libraries, crashes) line by line.

    Lines are held back until ``forward_to`` is called (once the kernel is up), so a kernel that
    fails to start is explained once, in the error line, from the last lines kept here.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(name="gclog-kernel-output", daemon=True)
        self.stream = stream
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self._held: list[str] | None = []
        self._sink: Callable[[str], None] = lambda line: None
        self._lock = threading.Lock()

    def run(self) -> None:
        for raw in self.stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line or any(noise in line for noise in _NOISE):
                continue
            with self._lock:
                self.tail.append(line)
                if self._held is not None:
                    self._held.append(line)
                    continue
            self._sink(line)

    def forward_to(self, sink: Callable[[str], None]) -> None:
        with self._lock:
            held, self._held, self._sink = self._held or [], None, sink
        for line in held:
            sink(line)

    def last_line(self) -> str | None:
        return self.tail[-1] if self.tail else None


@dataclass
class Kernel:
    manager: KernelManager
    client: BlockingKernelClient
    name: str
    info: dict[str, Any]
    output: KernelOutput | None = field(default=None, repr=False)
    _stopping: threading.Thread | None = field(default=None, repr=False)
    owned = True  # gclog started it: nothing restarts or shuts it down behind gclog's back

    @property
    def pid(self) -> int | None:
        return getattr(self.manager.provisioner, "pid", None)

    @property
    def connection_file(self) -> Path:
        return Path(self.manager.connection_file)

    def gone(self) -> bool:
        return self.exit_status() is not None

    def replaced(self, wait: float, cancelled: Callable[[], bool]) -> bool:
        return False

    def refresh(self) -> None:
        pass  # the same process (a kernel that exec()s itself keeps its pid)

    def exit_status(self) -> int | None:
        """The kernel process's exit status if it has ended (negative: killed by that signal)."""
        process = getattr(self.manager.provisioner, "process", None)
        if process is None:
            return None
        return process.poll()

    def interrupt(self) -> None:
        with contextlib.suppress(Exception):
            self.manager.interrupt_kernel()

    def begin_shutdown(self) -> None:
        """Ask an idle kernel to exit and let it do so while gclog finishes its own records;
        :meth:`shutdown` waits for it. Polls every 10 ms (jupyter_client's own shutdown polls
        every 100 ms, a tenth of a second lost on every run)."""
        if self._stopping is None and self.exit_status() is None:
            self._stopping = threading.Thread(
                target=self._shutdown_idle, name="gclog-kernel-shutdown", daemon=True
            )
            self._stopping.start()

    def _shutdown_idle(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        try:
            self.manager.request_shutdown()
            self.manager.finish_shutdown(pollinterval=0.01)
        except Exception:
            self._shutdown_now()
        with contextlib.suppress(Exception):
            self.manager.cleanup_resources()

    def _shutdown_now(self) -> None:
        try:
            self.manager.shutdown_kernel(now=True)
        except Exception:
            with contextlib.suppress(Exception):
                self.manager.provisioner.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]

    def shutdown(self, now: bool = False) -> None:
        """Stop channels and the kernel process; safe to call twice or after the kernel died."""
        if self._stopping is not None:
            self._stopping.join()
            return
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        if self.manager.has_kernel:
            try:
                self.manager.shutdown_kernel(now=now or self.exit_status() is not None)
            except Exception:
                with contextlib.suppress(Exception):
                    self.manager.provisioner.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            self.manager.cleanup_resources()


def new_connection_file() -> Path:
    """Where a kernel gclog starts keeps its connection file: in the runtime directory, as
    jupyter_server does, so that `gclog status` and `gclog attach` can find it."""
    runtime = Path(jupyter_runtime_dir())
    try:
        runtime.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GclogError(f"cannot use the Jupyter runtime directory {runtime}: {exc}") from None
    return runtime / f"kernel-{uuid.uuid4()}.json"


def check_kernelspec(name: str) -> None:
    """GclogError naming the kernels there are, if no kernel ``name`` is installed."""
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        available = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        raise GclogError(
            f"no kernel named {name!r} is installed (available: {available})"
        ) from None


def ipython_arguments(manager: KernelManager) -> list[str]:
    """What nbclient adds for an IPython kernel: its history in memory, so that parallel runs do
    not share (and lock) one history database, and a notebook sees a fresh history."""
    argv = manager.kernel_spec.argv if manager.kernel_spec is not None else []
    if manager.ipykernel or any("ipykernel" in arg for arg in argv):
        return ["--HistoryManager.hist_file=:memory:"]
    return []


def start(
    name: str,
    cwd: Path,
    startup_timeout: float,
    connection_file: Path,
    on_output: Callable[[str], None] | None = None,
    on_launched: Callable[[int], None] | None = None,
) -> Kernel:
    """Start kernel ``name`` in ``cwd`` and wait until it answers; GclogError if it cannot.

    The kernel process's own output goes to ``on_output`` a line at a time; ``on_launched``
    hears the kernel's pid as soon as it exists, to do work while the kernel gets ready.
    """
    kernel = launch(name, cwd, connection_file)
    if on_launched is not None and kernel.pid is not None:
        on_launched(kernel.pid)
    wait_ready(kernel, startup_timeout, on_output)
    return kernel


def launch(name: str, cwd: Path, connection_file: Path) -> Kernel:
    """Start kernel ``name``'s process and return at once: it boots (~0.7 s) while the caller
    does its own start-up; :func:`wait_ready` waits for it. GclogError if it cannot start."""
    check_kernelspec(name)
    manager = KernelManager(kernel_name=name, connection_file=str(connection_file))
    try:
        manager.start_kernel(
            cwd=str(cwd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            extra_arguments=ipython_arguments(manager),
        )
    except Exception as exc:
        raise GclogError(f"kernel {name!r} failed to start: {one_line(exc)}") from None
    kernel = Kernel(manager=manager, client=manager.client(), name=name, info={})
    process = getattr(manager.provisioner, "process", None)
    if process is not None and process.stdout is not None:
        kernel.output = KernelOutput(process.stdout)
        kernel.output.start()
    return kernel


def wait_ready(
    kernel: Kernel, startup_timeout: float, on_output: Callable[[str], None] | None = None
) -> None:
    """Wait until a launched kernel answers; GclogError (the kernel shut down) if it does not."""
    client, name = kernel.client, kernel.name
    try:
        client.start_channels()
        client.wait_for_ready(timeout=startup_timeout)
        kernel.info = _kernel_info(client, startup_timeout)
        # gclog reads iopub through a subscription of its own (jupyter/subscription.py): this
        # client's would queue every message a second time, here and in the kernel's iopub thread.
        client.iopub_channel.stop()
    except Exception as exc:
        status = kernel.exit_status()
        kernel.shutdown(now=True)
        detail = f"it exited with status {status}" if status is not None else one_line(exc)
        if kernel.output is not None:
            kernel.output.join(timeout=1)
            last = kernel.output.last_line()
            detail += f"; it said: {last}" if last else ""
        raise GclogError(f"kernel {name!r} failed to start: {detail}") from None
    except BaseException:  # Ctrl-C while waiting: never leave the process behind
        kernel.shutdown(now=True)
        raise
    if kernel.output is not None and on_output is not None:
        kernel.output.forward_to(on_output)


def _kernel_info(client: BlockingKernelClient, timeout: float) -> dict[str, Any]:
    msg_id = client.kernel_info()
    while True:
        reply = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return dict(reply["content"])
