"""The machine as a whole (psutil): CPU total and per core, load, memory, swap, disk, network."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import psutil

from gclog.samplers.base import Rates, Reading, Sampler, ratio


def _cpu_split(times: Any) -> tuple[float, float]:
    """(busy, total) seconds of one cpu_times() entry, as psutil's own cpu_percent counts them."""
    total = sum(times)
    # Linux counts guest time inside user and nice already.
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


def _busy_percent(busy: float | None, total: float | None) -> float | None:
    """A share of the CPUs' time, kept within 0–100 as psutil keeps its own: a fully busy machine
    otherwise reads 100.0000000003 (the busy time is a difference of floats)."""
    share = ratio(busy, total)
    return None if share is None else min(100.0, max(0.0, share))


class SystemSampler(Sampler):
    name = "system"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rates = Rates()

    @property
    def disk_path(self) -> str:
        """The kernel's working directory (where notebooks write): its file system is the one."""
        pid = self.context.kernel_pid
        if pid is not None:
            with contextlib.suppress(psutil.Error, OSError):
                return psutil.Process(pid).cwd()
        return os.getcwd()

    def probe(self) -> dict[str, Any]:
        frequency = self.attempt("system.cpu_freq", psutil.cpu_freq)
        swap = self.attempt("system.swap", psutil.swap_memory)
        disk = self.attempt("system.disk_usage", psutil.disk_usage, self.disk_path)
        return {
            "cpu_logical": psutil.cpu_count(logical=True),
            "cpu_physical": psutil.cpu_count(logical=False),
            "cpu_max_mhz": round(frequency.max, 1) if frequency and frequency.max else None,
            "memory_total_bytes": psutil.virtual_memory().total,
            "swap_total_bytes": swap.total if swap else None,
            "disk_total_bytes": disk.total if disk else None,
        }

    def sample(self) -> Reading:
        counters: dict[str, float | None] = {}
        cores = psutil.cpu_times(percpu=True)
        for index, times in enumerate(cores):
            counters[f"cpu{index}.busy"], counters[f"cpu{index}.all"] = _cpu_split(times)
        counters["cpu.busy"] = sum(counters[f"cpu{i}.busy"] or 0.0 for i in range(len(cores)))
        counters["cpu.all"] = sum(counters[f"cpu{i}.all"] or 0.0 for i in range(len(cores)))
        disk_io = self.attempt("system.disk_io", psutil.disk_io_counters)
        if disk_io is not None:
            counters["disk_read"], counters["disk_write"] = disk_io.read_bytes, disk_io.write_bytes
        net_io = self.attempt("system.net_io", psutil.net_io_counters)
        if net_io is not None:
            counters["net_sent"], counters["net_recv"] = net_io.bytes_sent, net_io.bytes_recv
        rates = self.rates.per_second(counters)

        reading: Reading = {
            "system.cpu_percent": _busy_percent(rates["cpu.busy"], rates["cpu.all"])
        }
        for index in range(len(cores)):
            reading[f"system.cpu{index}_percent"] = _busy_percent(
                rates[f"cpu{index}.busy"], rates[f"cpu{index}.all"]
            )
        load = self.attempt("system.load", psutil.getloadavg)
        if load is not None:
            reading["system.load1"], reading["system.load5"], reading["system.load15"] = load
        memory = psutil.virtual_memory()
        reading["system.memory_used_bytes"] = memory.total - memory.available
        reading["system.memory_available_bytes"] = memory.available
        reading["system.memory_percent"] = memory.percent
        swap = self.attempt("system.swap", psutil.swap_memory)
        if swap is not None:
            reading["system.swap_used_bytes"] = swap.used
            reading["system.swap_percent"] = swap.percent
        disk = self.attempt("system.disk_usage", psutil.disk_usage, self.disk_path)
        if disk is not None:
            reading["system.disk_used_bytes"] = disk.used
            reading["system.disk_percent"] = disk.percent
        for counter, field in (
            ("disk_read", "system.disk_read_bytes_per_s"),
            ("disk_write", "system.disk_write_bytes_per_s"),
            ("net_sent", "system.net_sent_bytes_per_s"),
            ("net_recv", "system.net_recv_bytes_per_s"),
        ):
            if counter in rates:
                reading[field] = rates[counter]
        return reading
