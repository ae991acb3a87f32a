"""A fake ``pynvml`` (nvidia-ml-py) for tests: one GPU, the calls gclog makes, real error classes.

``nvmlDeviceGetPowerUsage`` raises ``NVMLError_NotSupported`` (GPUs without a power sensor do), so
a test can check that only that field goes off. The kernel process (the ``ipykernel`` child of the
process importing this) is listed as a compute process using 1 GiB.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

# Constants with the real library's values.
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_LIBRARY_NOT_FOUND = 12

_STRINGS = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
}


class NVMLError(Exception):
    """As in pynvml: ``NVMLError(code)`` builds the subclass for that code; ``.value`` is the code."""

    _valClassMapping: dict[int, type[NVMLError]] = {}  # noqa: RUF012

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._valClassMapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int) -> None:
        self.value = value

    def __str__(self) -> str:
        return _STRINGS.get(self.value, f"Unknown Error {self.value}")


class NVMLError_Uninitialized(NVMLError):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_NoPermission(NVMLError):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


NVMLError._valClassMapping.update(
    {
        NVML_ERROR_UNINITIALIZED: NVMLError_Uninitialized,
        NVML_ERROR_NOT_SUPPORTED: NVMLError_NotSupported,
        NVML_ERROR_NO_PERMISSION: NVMLError_NoPermission,
        NVML_ERROR_LIBRARY_NOT_FOUND: NVMLError_LibraryNotFound,
    }
)


@dataclass
class c_nvmlUtilization_t:
    gpu: int
    memory: int


@dataclass
class c_nvmlMemory_t:
    total: int
    free: int
    used: int


@dataclass
class _ProcessInfo:
    pid: int
    usedGpuMemory: int | None


_state = {"initialised": 0}
_GIB = 1024**3


def _check() -> None:
    if not _state["initialised"]:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)


def nvmlInit() -> None:
    _state["initialised"] += 1


def nvmlShutdown() -> None:
    _check()
    _state["initialised"] -= 1


def nvmlSystemGetDriverVersion() -> str:
    _check()
    return "550.127.05"


def nvmlSystemGetCudaDriverVersion() -> int:
    _check()
    return 12040


def nvmlDeviceGetCount() -> int:
    _check()
    return 1


def nvmlDeviceGetHandleByIndex(index: int) -> object:
    _check()
    if index != 0:
        raise NVMLError(2)
    return ("fake-gpu", index)


def nvmlDeviceGetName(handle: object) -> str:
    _check()
    return "NVIDIA A40"


def nvmlDeviceGetMemoryInfo(handle: object, version: int | None = None) -> c_nvmlMemory_t:
    _check()
    return c_nvmlMemory_t(total=48 * _GIB, free=44 * _GIB, used=4 * _GIB)


def nvmlDeviceGetEnforcedPowerLimit(handle: object) -> int:
    _check()
    return 300_000  # milliwatts


def nvmlDeviceGetCudaComputeCapability(handle: object) -> tuple[int, int]:
    _check()
    return (8, 6)


def nvmlDeviceGetUtilizationRates(handle: object) -> c_nvmlUtilization_t:
    _check()
    return c_nvmlUtilization_t(gpu=63, memory=21)


def nvmlDeviceGetPowerUsage(handle: object) -> int:
    _check()
    raise NVMLError(NVML_ERROR_NOT_SUPPORTED)


def nvmlDeviceGetTemperature(handle: object, sensor: int) -> int:
    _check()
    if sensor != NVML_TEMPERATURE_GPU:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return 54


def nvmlDeviceGetClockInfo(handle: object, type: int) -> int:
    _check()
    return 1740


def nvmlDeviceGetComputeRunningProcesses(handle: object) -> list[_ProcessInfo]:
    _check()
    kernels = [
        child.pid for child in psutil.Process().children(recursive=True) if _is_kernel(child)
    ]
    return [_ProcessInfo(pid=pid, usedGpuMemory=_GIB) for pid in kernels]


def _is_kernel(proc: psutil.Process) -> bool:
    try:
        return any("ipykernel" in part for part in proc.cmdline())
    except psutil.Error:
        return False
