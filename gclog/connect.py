"""Finding a running kernel to observe: by connection file, kernel id or prefix; is it alive?"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import zmq
from jupyter_core.paths import jupyter_runtime_dir

from gclog.errors import GclogError

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
    matches = sorted(runtime_dir().glob(f"kernel-{glob.escape(key)}*.json"))
    if not matches:
        raise GclogError(f"no kernel matches {kernel!r} in {runtime_dir()}")
    if len(matches) > 1:
        ids = ", ".join(kernel_id_of(m) or m.name for m in matches[:3])
        more = "…" if len(matches) > 3 else ""
        raise GclogError(
            f"{kernel!r} matches {len(matches)} kernels ({ids}{more}); give more of the id"
        )
    return matches[0].resolve()


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


def heartbeat(info: dict[str, Any], context: zmq.Context[Any], timeout: float) -> bool:
    socket = context.socket(zmq.REQ)
    socket.linger = 0
    try:
        socket.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
        socket.send(b"ping")
        return bool(socket.poll(int(timeout * 1000)))
    finally:
        socket.close()


@dataclass
class Target:
    connection_file: Path
    info: dict[str, Any]
    process: psutil.Process | None

    @property
    def kernel_id(self) -> str | None:
        return kernel_id_of(self.connection_file)

    @property
    def label(self) -> str:
        return self.kernel_id or str(self.connection_file)


def open_target(kernel: str | None, existing: bool, kernel_pid: int | None = None) -> Target:
    path = resolve(kernel, existing)
    info = read_connection(path)
    process = find_kernel_process(path, kernel_pid)
    if process is None:
        context = zmq.Context.instance()
        if not heartbeat(info, context, timeout=1.5):
            raise GclogError(f"kernel {path} is not running (a stale connection file)")
    return Target(connection_file=path, info=info, process=process)
