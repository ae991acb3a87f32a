"""NVIDIA GPUs through NVML (``nvidia-ml-py``, module ``pynvml``: ``pip install 'gclog[nvidia]'``).

Each NVML call feeds its own fields; a call that fails (a GPU with no power sensor says "Not
Supported") switches off only those fields, never the whole source.

On a machine without the NVIDIA driver, nvidia-ml-py is not imported at all: its module alone is
~4 MB of gclog's memory (thousands of ctypes classes), for an answer known in advance.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from gclog.samplers.base import Reading, Sampler, describe
from gclog.samplers.process import tree_pids

# What nvidia-ml-py's nvmlInit raises (as NVMLError) when it cannot load the library.
LIBRARY_NOT_FOUND = "NVML did not start: NVML Shared Library Not Found"


def nvml_library_missing() -> bool:
    """True when the installed module is nvidia-ml-py's own and its nvmlInit would fail to load
    NVML: on Linux it loads exactly ``libnvidia-ml.so.1`` (pynvml._LoadNvmlLibrary), so that
    is tried here. Any other module named pynvml (an old wrapper, a test's fake) is imported."""
    if not sys.platform.startswith("linux") or "pynvml" in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec("pynvml")
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None or Path(spec.origin).name != "pynvml.py":
        return False
    try:  # nvidia-ml-py installs the single file pynvml.py beside its dist-info
        names = os.listdir(Path(spec.origin).parent)
    except OSError:
        return False
    if not any(n.startswith("nvidia_ml_py-") and n.endswith(".dist-info") for n in names):
        return False
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")  # when found, pynvml's own load gets this same handle
    except OSError:
        return True
    return False


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvidiaSampler(Sampler):
    name = "nvidia"
    follows_cells = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nvml: Any = None
        self.handles: list[Any] = []

    def unavailable(self) -> str | None:
        if nvml_library_missing():
            return LIBRARY_NOT_FOUND
        try:
            import pynvml
        except ImportError:
            return "nvidia-ml-py is not installed — pip install 'gclog[nvidia]'"
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            return f"NVML did not start: {exc}"  # e.g. "NVML Shared Library Not Found": no driver
        except Exception as exc:
            return f"NVML did not start: {describe(exc)}"
        self.nvml = pynvml
        try:
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:
            self.close()
            return f"NVML could not list the GPUs: {describe(exc)}"
        if not self.handles:
            self.close()
            return "NVML found no NVIDIA GPU"
        return None

    def probe(self) -> dict[str, Any]:
        nvml = self.nvml

        def fact(call: Callable[..., Any], *args: Any) -> Any:
            try:
                return call(*args)
            except Exception:
                return None

        cuda = fact(nvml.nvmlSystemGetCudaDriverVersion)
        devices = []
        for index, handle in enumerate(self.handles):
            memory = fact(nvml.nvmlDeviceGetMemoryInfo, handle)
            limit = fact(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
            capability = fact(nvml.nvmlDeviceGetCudaComputeCapability, handle)
            name = fact(nvml.nvmlDeviceGetName, handle)
            devices.append(
                {
                    "index": index,
                    "name": _text(name) if name is not None else None,
                    "memory_total_bytes": int(memory.total) if memory is not None else None,
                    "power_limit_w": limit / 1000 if limit is not None else None,
                    "compute_capability": ".".join(map(str, capability)) if capability else None,
                }
            )
        driver = fact(nvml.nvmlSystemGetDriverVersion)
        return {
            "driver_version": _text(driver) if driver is not None else None,
            "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else None,
            "device_count": len(self.handles),
            "devices": devices,
        }

    def sample(self) -> Reading:
        nvml = self.nvml
        kernel_pid = self.context.kernel_pid
        kernel = set(tree_pids(kernel_pid)) if kernel_pid is not None else None
        reading: Reading = {}
        for index, handle in enumerate(self.handles):
            prefix = f"nvidia.{index}."
            rates = self.attempt(prefix + "utilization", nvml.nvmlDeviceGetUtilizationRates, handle)
            if rates is not None:
                reading[prefix + "utilization_percent"] = rates.gpu
                reading[prefix + "memory_utilization_percent"] = rates.memory
            memory = self.attempt(prefix + "memory", nvml.nvmlDeviceGetMemoryInfo, handle)
            if memory is not None:
                reading[prefix + "memory_used_bytes"] = memory.used
                reading[prefix + "memory_percent"] = (
                    100.0 * memory.used / memory.total if memory.total else None
                )
            power = self.attempt(prefix + "power", nvml.nvmlDeviceGetPowerUsage, handle)
            if power is not None:
                reading[prefix + "power_w"] = power / 1000  # NVML reports milliwatts
            temperature = self.attempt(
                prefix + "temperature",
                nvml.nvmlDeviceGetTemperature,
                handle,
                nvml.NVML_TEMPERATURE_GPU,
            )
            if temperature is not None:
                reading[prefix + "temperature_c"] = temperature
            clock = self.attempt(
                prefix + "clock", nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM
            )
            if clock is not None:
                reading[prefix + "sm_clock_mhz"] = clock
            processes = self.attempt(
                prefix + "processes", nvml.nvmlDeviceGetComputeRunningProcesses, handle
            )
            if processes is not None:
                reading.update(self._processes(prefix, processes, kernel))
        if not reading and len(self.fields_off) > 0:
            raise RuntimeError("every NVML call failed: " + "; ".join(self.fields_off.values()))
        return reading

    @staticmethod
    def _processes(prefix: str, processes: list[Any], kernel: set[int] | None) -> Reading:
        fields: Reading = {prefix + "processes": len(processes)}
        if kernel is None:
            return fields
        ours = [p for p in processes if p.pid in kernel]
        fields[prefix + "kernel_memory_bytes"] = sum(p.usedGpuMemory or 0 for p in ours)
        if ours:
            fields[prefix + "used_by_kernel"] = 1
        elif processes and not any(psutil.pid_exists(p.pid) for p in processes):
            # In a container NVML reports host pids: which of them is the kernel is unknowable.
            fields[prefix + "used_by_kernel"] = None
        else:
            fields[prefix + "used_by_kernel"] = 0
        return fields

    def close(self) -> None:
        if self.nvml is not None:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()
            self.nvml = None
