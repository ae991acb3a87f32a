"""Per-cell resource attribution: the readings taken while one cell ran, turned into its resources.

The pool reads the kernel's process tree when the cell starts and when it ends (so CPU seconds and
I/O bytes are exact differences of cumulative counters), and more often in between (for peaks).
Accelerator readings taken during the cell count for the devices the kernel's processes use.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from gclog.records import CellResources, Spread
from gclog.samplers.base import MIN_RATE_SPAN_S, Reading

# Accelerator fields a cell record keeps (temperatures and clocks stay in the metrics records).
_ACCELERATOR_FIELDS = ("utilisation", "utilization", "power", "memory", "_bytes")


def _number(reading: Reading, field: str) -> float | None:
    value = reading.get(field)
    return None if value is None else float(value)


class CellMeter:
    def __init__(self) -> None:
        self.readings: dict[str, list[tuple[float, Reading]]] = defaultdict(list)

    def add(self, source: str, at: float, reading: Reading) -> None:
        if reading:
            self.readings[source].append((at, reading))

    def resources(self) -> CellResources:
        process = sorted(self.readings.get("process", []), key=lambda pair: pair[0])
        resources: CellResources = {
            "samples": len(process),
            "cpu_seconds": None,
            "cpu_percent_mean": None,
            "cpu_percent_peak": None,
            "rss_start_bytes": None,
            "rss_peak_bytes": None,
            "rss_end_bytes": None,
            "rss_growth_bytes": None,
            "io_read_bytes": None,
            "io_write_bytes": None,
            "processes_peak": None,
            "accelerators": self._accelerators(),
        }
        if process:
            resources.update(self._process(process))
        return resources

    @staticmethod
    def _process(readings: list[tuple[float, Reading]]) -> dict[str, Any]:
        (t0, first), (t1, last) = readings[0], readings[-1]
        out: dict[str, Any] = {}

        def grew(field: str) -> float | None:
            a, b = _number(first, field), _number(last, field)
            # A counter that went down means the kernel restarted in between: no answer.
            return b - a if a is not None and b is not None and b >= a else None

        cpu = grew("process.cpu_seconds_total")
        span = t1 - t0
        if cpu is not None:
            out["cpu_seconds"] = round(cpu, 3)
            if span >= MIN_RATE_SPAN_S:
                out["cpu_percent_mean"] = round(100.0 * cpu / span, 1)
                out["cpu_percent_peak"] = _peak_cpu_percent(readings)
        for field, key in (
            ("process.io_read_bytes_total", "io_read_bytes"),
            ("process.io_write_bytes_total", "io_write_bytes"),
        ):
            value = grew(field)
            out[key] = int(value) if value is not None else None
        rss = [int(v) for _, r in readings if (v := r.get("process.rss_bytes")) is not None]
        if rss:
            peak = max(rss)
            # The kernel's all-time peak RSS rose during the cell: that peak happened in it, even
            # if it came and went between two readings.
            hwm0 = _number(first, "process.kernel_peak_rss_bytes")
            hwm1 = _number(last, "process.kernel_peak_rss_bytes")
            if hwm0 is not None and hwm1 is not None and hwm1 > hwm0:
                peak = max(peak, int(hwm1))
            start = _number(first, "process.rss_bytes")
            end = _number(last, "process.rss_bytes")
            out["rss_peak_bytes"] = peak
            out["rss_start_bytes"] = int(start) if start is not None else None
            out["rss_end_bytes"] = int(end) if end is not None else None
            out["rss_growth_bytes"] = peak - int(start) if start is not None else None
        counts = [int(v) for _, r in readings if (v := r.get("process.processes")) is not None]
        out["processes_peak"] = max(counts) if counts else None
        return out

    def _accelerators(self) -> dict[str, Spread]:
        out: dict[str, Spread] = {}
        for source, readings in self.readings.items():
            if source == "process":
                continue
            devices: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
            for _, reading in readings:
                for field, value in reading.items():
                    if value is not None:
                        device, _, name = field.rpartition(".")
                        devices[device][name].append(float(value))
            for device, fields in devices.items():
                used = fields.get("used_by_kernel")
                # Devices the kernel's processes used; all of them when that cannot be told.
                if used is not None and max(used) < 1:
                    continue
                for name, values in fields.items():
                    if any(part in name for part in _ACCELERATOR_FIELDS):
                        out[f"{device}.{name}"] = {
                            "mean": round(sum(values) / len(values), 3),
                            "max": round(max(values), 3),
                        }
        return out


def _peak_cpu_percent(readings: list[tuple[float, Reading]]) -> float | None:
    """The highest CPU % between readings at least MIN_RATE_SPAN_S apart."""
    peak: float | None = None
    anchor_t, anchor = readings[0]
    for t, reading in readings[1:]:
        if t - anchor_t < MIN_RATE_SPAN_S:
            continue
        a = _number(anchor, "process.cpu_seconds_total")
        b = _number(reading, "process.cpu_seconds_total")
        if a is not None and b is not None and b >= a:
            rate = round(100.0 * (b - a) / (t - anchor_t), 1)
            peak = rate if peak is None else max(peak, rate)
        anchor_t, anchor = t, reading
    return peak
