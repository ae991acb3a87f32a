"""The kernel's process tree (the kernel and every descendant): CPU, memory, threads, I/O.

Children come and go (subprocess, multiprocessing, data loaders), so the tree keeps cumulative
counters that stay exact across that: a process seen for the first time adds all it has used; one
that is gone was reaped by its parent, whose ``children_*`` CPU times and I/O counters now include
its whole life, so what was already counted for it is taken back out once.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from gclog.samplers.base import Rates, Reading, Sampler, ratio


@dataclass
class _Usage:
    """What one process has used so far (children it reaped included)."""

    ppid: int
    cpu_s: float
    read_bytes: int
    write_bytes: int
    rss_bytes: int
    threads: int


def _read(path: str) -> bytes:
    """A small /proc file, the cheapest way Python can (no text layer, no buffer object)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _children_from_proc(pid: int) -> list[int] | None:
    """Direct children from ``/proc/PID/task/*/children`` (~40× cheaper than a full /proc scan)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
    except OSError:
        return None
    children: list[int] = []
    for tid in tasks:
        try:
            children.extend(
                int(child) for child in _read(f"/proc/{pid}/task/{tid}/children").split()
            )
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended meanwhile
            return None  # a kernel without CONFIG_PROC_CHILDREN
        except OSError:
            return None
    return children


def peak_rss_of(pid: int) -> int | None:
    """The process's all-time peak RSS (Linux ``VmHWM``), which catches spikes between samples."""
    try:
        return _peak_from_status(_read(f"/proc/{pid}/status"))
    except (OSError, ValueError):
        return None


def _peak_from_status(status: bytes) -> int:
    start = status.index(b"VmHWM:") + 6
    return int(status[start : status.index(b"kB", start)]) * 1024


_fast_listing = True  # until /proc says it has no children files
# Listing the tree reads a file per thread of every process in it (~0.1 ms for a kernel), reading
# what each uses costs two small reads a process: membership is listed at most this often, usage
# at every reading. A child started since is seen at the next listing and counted whole then.
LIST_EVERY_S = 0.5

# /proc/PID/stat, counted from the field after the command name (proc(5): state is field 3).
_LINUX_PROC = os.path.exists(f"/proc/{os.getpid()}/stat") and hasattr(os, "sysconf")
_PPID, _THREADS, _RSS_PAGES = 4 - 3, 20 - 3, 24 - 3
_CPU_TICKS = (14 - 3, 15 - 3, 16 - 3, 17 - 3)  # utime, stime, cutime, cstime
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if _LINUX_PROC else 100
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if _LINUX_PROC else 4096


def tree_pids(root: int) -> list[int]:
    """The process and all its descendants; empty when it is gone."""
    global _fast_listing
    if not _exists(root):
        return []
    if _fast_listing:
        found, queue = [root], [root]
        while queue:
            children = _children_from_proc(queue.pop())
            if children is None:
                _fast_listing = False
                break
            found.extend(children)
            queue.extend(children)
        else:
            return found
    try:
        return [root, *(child.pid for child in psutil.Process(root).children(recursive=True))]
    except psutil.Error:
        return []


def _exists(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/stat") if _LINUX_PROC else psutil.pid_exists(pid)


# Descriptors of /proc files kept open between readings, at most this many (a big tree reads
# the rest as before, opening each file every time).
KEPT_OPEN = 64


class ProcessTree:
    """Cumulative usage of a process and all its descendants. Not thread-safe: one caller at a time."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: dict[int, _Usage] = {}
        self.cpu_s = 0.0
        self.read_bytes = 0
        self.write_bytes = 0
        self.io_denied = False
        self._procs: dict[int, psutil.Process] = {}
        self._listed: list[int] = []
        self._listed_at = 0.0
        self._open: dict[tuple[int, str], int] = {}  # (pid, file) -> descriptor
        # Readings take turns already; this keeps close() (the pool's end, another thread) from
        # closing a descriptor under a reading, or twice.
        self._files_lock = threading.Lock()

    def _proc_file(self, pid: int, name: str) -> bytes:
        """``/proc/PID/NAME``, read through a descriptor kept open: opening a /proc file (a path
        walk through the pid's directory) costs as much as reading it, at every reading. A
        read at offset 0 makes the file afresh. A descriptor stays with its process: once that
        is gone its reads fail (ESRCH), and the path is opened again, so a pid taken by a new
        process reads as that one, as a fresh open would."""
        key = (pid, name)
        with self._files_lock:
            fd = self._open.pop(key, None)
            if fd is not None:
                try:
                    data = os.pread(fd, 65536, 0)
                except OSError:
                    os.close(fd)
                else:
                    self._open[key] = fd
                    return data
            fd = os.open(f"/proc/{pid}/{name}", os.O_RDONLY)
            try:
                data = os.pread(fd, 65536, 0)
            except BaseException:
                os.close(fd)
                raise
            if len(self._open) < KEPT_OPEN:
                self._open[key] = fd
            else:
                os.close(fd)
            return data

    def _forget_files(self, keep: dict[int, _Usage] | None = None) -> None:
        """Close the descriptors of processes not in ``keep`` (all of them without it)."""
        with self._files_lock:
            for key in [key for key in self._open if keep is None or key[0] not in keep]:
                os.close(self._open.pop(key))

    def close(self) -> None:
        self._forget_files()

    def pids(self) -> list[int]:
        """The tree's processes, as listed at most ``LIST_EVERY_S`` ago."""
        now = time.monotonic()
        if not self._listed or now - self._listed_at >= LIST_EVERY_S:
            self._listed, self._listed_at = tree_pids(self.root), now
        return self._listed

    def _usage(self, pid: int) -> _Usage | None:
        """What ``pid`` used, from two /proc reads (psutil takes four and ~0.1 ms); psutil where
        /proc is not Linux's."""
        if not _LINUX_PROC:
            return self._usage_psutil(pid)
        try:
            stat = self._proc_file(pid, "stat")
        except (FileNotFoundError, ProcessLookupError):
            return None
        except OSError:
            return None
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        fields = stat[stat.rindex(b")") + 2 :].split()
        read = write = 0
        if not self.io_denied:
            try:
                io = self._proc_file(pid, "io")
                read = int(io[io.index(b"\nread_bytes:") + 12 : io.index(b"\nwrite_bytes:")])
                start = io.index(b"\nwrite_bytes:") + 13
                write = int(io[start : io.index(b"\n", start)])
            except PermissionError:
                self.io_denied = True
            except (FileNotFoundError, ProcessLookupError):
                return None
            except (OSError, ValueError):
                self.io_denied = True
        return _Usage(
            ppid=int(fields[_PPID]),
            cpu_s=sum(int(fields[i]) for i in _CPU_TICKS) / _CLOCK_TICKS,
            read_bytes=read,
            write_bytes=write,
            rss_bytes=int(fields[_RSS_PAGES]) * _PAGE_SIZE,
            threads=int(fields[_THREADS]),
        )

    def _usage_psutil(self, pid: int) -> _Usage | None:
        proc = self._procs.get(pid)
        try:
            if proc is None:
                proc = self._procs[pid] = psutil.Process(pid)
            with proc.oneshot():
                cpu = proc.cpu_times()
                memory = proc.memory_info()
                threads = proc.num_threads()
                ppid = proc.ppid()
                read = write = 0
                if not self.io_denied:
                    try:
                        io = proc.io_counters()
                        read, write = io.read_bytes, io.write_bytes
                    except psutil.AccessDenied:
                        self.io_denied = True
                    except (AttributeError, NotImplementedError):
                        self.io_denied = True  # this platform has no per-process I/O counters
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            self._procs.pop(pid, None)
            return None
        except psutil.AccessDenied:
            return None
        return _Usage(
            ppid=ppid,
            cpu_s=cpu.user + cpu.system + cpu.children_user + cpu.children_system,
            read_bytes=int(read),
            write_bytes=int(write),
            rss_bytes=int(memory.rss),
            threads=int(threads),
        )

    def read(self) -> dict[str, Any] | None:
        """One reading of the tree, or None when the root process is gone."""
        current: dict[int, _Usage] = {}
        for pid in self.pids():
            usage = self._usage(pid)
            if usage is not None:
                current[pid] = usage
        if self.root not in current:  # gone (the listing may be older than its end)
            self.seen.clear()
            self._procs.clear()
            self._listed = []
            self._forget_files()
            return None
        for pid, before in self.seen.items():
            if pid in current:
                continue
            if _exists(pid):
                # The children listing can miss a process being created or moved: one that
                # still runs under a parent in the tree is still ours. One re-parented out of
                # the tree (its parent died) is not, but what it used stays counted.
                usage = self._usage(pid)
                if usage is not None and usage.ppid in current:
                    current[pid] = usage
            elif before.ppid in current:
                # Reaped by its parent, whose counters now hold all of it: count it once.
                self.cpu_s -= before.cpu_s
                self.read_bytes -= before.read_bytes
                self.write_bytes -= before.write_bytes
        for pid, now in current.items():
            before = self.seen.get(pid)
            self.cpu_s += now.cpu_s - (before.cpu_s if before else 0.0)
            self.read_bytes += now.read_bytes - (before.read_bytes if before else 0)
            self.write_bytes += now.write_bytes - (before.write_bytes if before else 0)
        self.seen = current
        for pid in [pid for pid in self._procs if pid not in current]:
            del self._procs[pid]
        if len(self._open) > 2 * len(current) + 1:  # processes left the tree (2 files each,
            # and the root's status)
            self._forget_files(current)
        return {
            "cpu_s": self.cpu_s,
            "read_bytes": None if self.io_denied else self.read_bytes,
            "write_bytes": None if self.io_denied else self.write_bytes,
            "rss_bytes": sum(u.rss_bytes for u in current.values()),
            "threads": sum(u.threads for u in current.values()),
            "processes": len(current),
            "peak_rss_bytes": self._peak_rss(),
        }

    def _peak_rss(self) -> int | None:
        """The root's all-time peak RSS, as :func:`peak_rss_of` reads it."""
        try:
            return _peak_from_status(self._proc_file(self.root, "status"))
        except (OSError, ValueError):
            return None


class ProcessSampler(Sampler):
    name = "process"
    follows_cells = True
    # ~30 µs: a cell's CPU seconds are exact, bar a child it started under LIST_EVERY_S before
    # its end (counted whole in the next reading)
    read_at_cell_edges = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tree: ProcessTree | None = None
        self.rates = Rates()

    def unavailable(self) -> str | None:
        pid = self.context.kernel_pid
        if pid is None:
            return "the kernel's process id is not known"
        if not psutil.pid_exists(pid):
            return f"the kernel process {pid} is not running"
        return None

    def _tree(self) -> ProcessTree | None:
        pid = self.context.kernel_pid
        if pid is None:
            return None
        if self.tree is None or self.tree.root != pid:  # first use, or the kernel restarted
            if self.tree is not None:
                self.tree.close()
            self.tree = ProcessTree(pid)
            self.rates.reset()
        return self.tree

    def probe(self) -> dict[str, Any]:
        tree = self._tree()
        facts: dict[str, Any] = {"kernel_pid": self.context.kernel_pid}
        with contextlib.suppress(psutil.Error):
            if tree is not None:
                facts["processes"] = len(tree.pids())
        return facts

    def close(self) -> None:
        if self.tree is not None:
            self.tree.close()

    def sample(self) -> Reading:
        tree = self._tree()
        now = tree.read() if tree is not None else None
        if now is None:  # the kernel is gone (died, or restarting): nothing to read, not a failure
            return {}
        rates = self.rates.per_second(
            {"cpu": now["cpu_s"], "read": now["read_bytes"], "write": now["write_bytes"]}
        )
        return {
            "process.cpu_seconds_total": round(now["cpu_s"], 3),
            "process.io_read_bytes_total": now["read_bytes"],
            "process.io_write_bytes_total": now["write_bytes"],
            "process.cpu_percent": ratio(rates["cpu"], 1.0),
            "process.io_read_bytes_per_s": rates["read"],
            "process.io_write_bytes_per_s": rates["write"],
            "process.rss_bytes": now["rss_bytes"],
            "process.kernel_peak_rss_bytes": now["peak_rss_bytes"],
            "process.threads": now["threads"],
            "process.processes": now["processes"],
        }
