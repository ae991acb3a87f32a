"""Finding a running kernel to observe: by connection file, kernel id or prefix; is it alive?"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from jupyter_core.paths import jupyter_runtime_dir

from gclog.errors import GclogError
from gclog.text import by_prefix

if TYPE_CHECKING:
    import zmq  # imported where a heartbeat is sent: `gclog status` needs none (~15 ms)

_CONNECTION_KEYS = ("ip", "iopub_port", "hb_port", "key", "transport")


def runtime_dir() -> Path:
    return Path(jupyter_runtime_dir())


def running_connection_files() -> list[Path]:
    """Connection files in the Jupyter runtime directory, most recent last."""
    found = runtime_dir().glob("kernel-*.json")
    return sorted(found, key=lambda p: p.stat().st_mtime if p.exists() else 0)


def resolve(kernel: str | None, existing: bool) -> Path:
    """A connection file from a path, a kernel id, a unique id prefix, or the most recent one."""
    if not kernel:
        if not existing:
            raise GclogError(
                "name a kernel: a connection file, a kernel id or a unique prefix "
                "(or --existing for the most recent kernel)"
            )
        files = running_connection_files()
        if not files:
            raise GclogError(f"no kernels found in {runtime_dir()}")
        return files[-1].resolve()
    path = Path(kernel).expanduser()
    if path.is_file():
        return path.resolve()
    if path.suffix == ".json" or "/" in kernel:
        raise GclogError(f"{kernel}: no such connection file")
    key = kernel.removeprefix("kernel-")
    files = {
        kernel_id_of(f) or f.name: f for f in runtime_dir().glob(f"kernel-{glob.escape(key)}*.json")
    }
    found = by_prefix(key, files, "kernel", where=f" in {runtime_dir()}", listed=3)
    return files[found].resolve()


def kernel_id_of(path: Path) -> str | None:
    name = path.name
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-") : -len(".json")]
    return None


def read_connection(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text())
    except OSError as exc:
        raise GclogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError:
        raise GclogError(f"{path}: not a kernel connection file (not valid JSON)") from None
    if not isinstance(info, dict) or any(k not in info for k in _CONNECTION_KEYS):
        raise GclogError(f"{path}: not a kernel connection file (no ports or key)")
    return info


def find_kernel_process(connection_file: Path, hint: int | None = None) -> psutil.Process | None:
    """The local process serving this connection file (its command line names it), if any."""
    if hint is not None:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(hint)
            if _serves(process.cmdline(), connection_file):
                return process
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if _serves(process.info["cmdline"] or [], connection_file):
                return process
    return None


def kernel_processes(connection_files: list[Path]) -> dict[Path, psutil.Process]:
    """The local process serving each connection file, in one pass over the processes."""
    found: dict[Path, psutil.Process] = {}
    if not connection_files:
        return found
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmdline = process.info["cmdline"] or []
            for path in connection_files:
                if path not in found and _serves(cmdline, path):
                    found[path] = process
    return found


def _serves(cmdline: list[str], connection_file: Path) -> bool:
    # A kernel names its connection file after -f (the kernelspec convention); gclog attach and
    # jupyter console name it too, but as a plain argument: they are clients, not the kernel.
    full, name = str(connection_file), connection_file.name
    for flag, value in itertools.pairwise(cmdline):
        if flag in ("-f", "--f", "--connection-file") and value in (full, name):
            return True
    return any(arg in (f"--f={full}", f"--connection-file={full}") for arg in cmdline)


def is_alive(process: psutil.Process) -> bool:
    """Running and not a zombie (a dead kernel whose parent has not reaped it yet)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def heartbeat(info: dict[str, Any], context: zmq.Context[Any] | None, timeout: float) -> bool:
    """Whether the kernel answers a ping in ``timeout`` s; ``context`` None: the shared one."""
    import zmq

    socket = (context or zmq.Context.instance()).socket(zmq.REQ)
    socket.linger = 0
    try:
        socket.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
        socket.send(b"ping")
        return bool(socket.poll(int(timeout * 1000)))
    finally:
        socket.close()


HEARTBEAT_EVERY_S = 1.0
HEARTBEAT_MISSES = 3


@dataclass
class Target:
    """A running kernel someone else drives, and the watch on it that tells when it is gone.

    Its process is watched when it runs here (a death shows in ~20 ms), its heartbeat when it
    runs elsewhere. Its server may restart it: :meth:`replaced` waits for the new process.
    """

    connection_file: Path
    info: dict[str, Any]
    process: psutil.Process | None
    owned = False  # its server may restart it, or shut it down
    _misses: int = field(default=0, init=False)
    _next_heartbeat: float = field(default=0.0, init=False)

    @property
    def kernel_id(self) -> str | None:
        return kernel_id_of(self.connection_file)

    @property
    def label(self) -> str:
        return self.kernel_id or str(self.connection_file)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def gone(self) -> bool:
        if self.process is not None:
            return not is_alive(self.process)
        now = time.monotonic()
        if now < self._next_heartbeat:
            return False
        self._next_heartbeat = now + HEARTBEAT_EVERY_S
        if heartbeat(self.info, None, timeout=HEARTBEAT_EVERY_S):
            self._misses = 0
            return False
        self._misses += 1
        return self._misses >= HEARTBEAT_MISSES

    def exit_status(self) -> int | None:
        return None  # not our child: its exit status is its parent's to know

    def replaced(self, wait: float, cancelled: Callable[[], bool]) -> bool:
        """Wait up to ``wait`` seconds for a new kernel process serving the same connection."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not cancelled():
            if self.process is not None:
                if find_kernel_process(self.connection_file) is not None:
                    return True
            elif heartbeat(self.info, None, timeout=HEARTBEAT_EVERY_S):
                self._misses = 0
                return True
            time.sleep(0.2)
        return False

    def refresh(self) -> None:
        if self.process is not None:
            self.process = find_kernel_process(self.connection_file)


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


def kernelspec_language(name: str | None) -> str | None:
    """The language a kernelspec declares, for a kernel that does not answer kernel_info."""
    if not name:
        return None
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        return KernelSpecManager().get_kernel_spec(name).language
    except Exception:  # no such kernelspec, or an unreadable one: unknown, not an error
        return None


def open_target(kernel: str | None, existing: bool, kernel_pid: int | None = None) -> Target:
    path = resolve(kernel, existing)
    info = read_connection(path)
    process = find_kernel_process(path, kernel_pid)
    if process is None and not heartbeat(info, None, timeout=1.5):
        raise GclogError(f"kernel {path} is not running (a stale connection file)")
    return Target(connection_file=path, info=info, process=process)


def ask_kernel_info(info: dict[str, Any], timeout: float = 2.0) -> dict[str, Any] | None:
    """The kernel's ``kernel_info_reply`` content, asked on its control channel (answered even
    while a cell runs); None if it does not answer in time. Not an execute request: it runs no
    code and adds nothing to the person's history."""
    from jupyter_client.blocking.client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(info)
    try:
        client.start_channels(shell=False, iopub=False, stdin=False, hb=False, control=True)
        request = client.session.msg("kernel_info_request")
        client.control_channel.send(request)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = client.get_control_msg(timeout=left)
            if reply.get("parent_header", {}).get("msg_id") == request["header"]["msg_id"]:
                content = reply.get("content")
                return content if isinstance(content, dict) else None
    except Exception:  # no answer (queue.Empty), or a kernel that cannot be reached
        return None
    finally:
        client.stop_channels()
    return None


def code_cells(notebook: Path) -> int | None:
    """How many code cells the notebook file has, as saved; None if it cannot be read as one."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(cells, list):
        return None
    return sum(1 for cell in cells if isinstance(cell, dict) and cell.get("cell_type") == "code")
