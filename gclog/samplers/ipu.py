"""Graphcore IPUs through ``gcipuinfo`` (it ships with the Poplar SDK; it is not on PyPI).

``gcipuinfo`` reports each device as a dict of strings with units attached ("37.5%", "88.1W",
"41.2 C", "1850MHz") or "N/A"; :func:`parse_quantity` turns them into numbers or None, never an
exception. Which process uses a device comes from its "user process id".
"""

from __future__ import annotations

import re
from typing import Any

from gclog.samplers.base import Reading, Sampler, describe
from gclog.samplers.process import tree_pids

# Units gcipuinfo writes, and the factor to the unit gclog records in.
_SCALE = {
    "%": ("%", 1.0),
    "W": ("W", 1.0),
    "mW": ("W", 0.001),
    "C": ("C", 1.0),
    "MHz": ("MHz", 1.0),
    "GHz": ("MHz", 1000.0),
    "GT/s": ("GT/s", 1.0),
    "": ("", 1.0),
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%/]*)\s*$")

# gcipuinfo attribute → (field name, unit it must carry)
VARIABLE = {
    "ipu utilisation": ("utilisation_percent", "%"),
    "ipu utilisation (session)": ("utilisation_session_percent", "%"),
    "ipu power": ("power_w", "W"),
    "average die temp": ("die_temp_c", "C"),
    "average board temp": ("board_temp_c", "C"),
    "clock": ("clock_mhz", "MHz"),
    # IPUs report no device-memory use; these are the host-exchange tables' sizes in use.
    "hexoatt active size (bytes)": ("hexoatt_active_bytes", ""),
    "hexopt active size (bytes)": ("hexopt_active_bytes", ""),
}
# Static board facts worth keeping (never serial numbers or host names).
FACTS = (
    "board type",
    "board variant",
    "ipu architecture",
    "firmware version",
    "driver version",
    "link speed",
    "link width",
)


def parse_quantity(value: Any, unit: str | None = None) -> float | None:
    """``"88.1W"`` → 88.1; ``"N/A"``, ``""``, garbage or the wrong unit → None.

    With ``unit``, the value must carry that unit (or one that converts to it, e.g. mW → W) or
    no unit at all.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value else None  # NaN is no reading
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    number, suffix = float(match.group(1)), match.group(2)
    if suffix not in _SCALE:
        return None
    base, factor = _SCALE[suffix]
    if unit is not None and suffix and base != unit:
        return None
    return number * factor


def _pid(value: Any) -> int | None:
    try:
        pid = int(str(value).strip())
    except ValueError:
        return None
    return pid if pid > 0 else None


def _device_key(device: dict[str, Any], index: int) -> str:
    raw = str(device.get("id", index)).strip()
    return raw if raw.isdigit() else str(index)


class IpuSampler(Sampler):
    name = "ipu"
    follows_cells = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.info: Any = None

    def unavailable(self) -> str | None:
        try:
            import gcipuinfo  # type: ignore[import-not-found]
        except ImportError:
            return "gcipuinfo is not importable — it ships with Graphcore's Poplar SDK"
        try:
            self.info = gcipuinfo.gcipuinfo()
            self.info.setUpdateMode(True)
            devices = self.info.getDevices()
        except Exception as exc:
            return f"gcipuinfo failed: {describe(exc)}"
        if not devices:
            return "gcipuinfo found no IPU devices"
        return None

    def probe(self) -> dict[str, Any]:
        devices = [dict(device) for device in self.info.getDevices()]
        return {
            "device_count": len(devices),
            "devices": [
                {"id": _device_key(device, index)}
                | {key.replace(" ", "_"): str(device[key]) for key in FACTS if key in device}
                for index, device in enumerate(devices)
            ],
        }

    def sample(self) -> Reading:
        devices = [dict(device) for device in self.info.getDevices()]
        kernel_pid = self.context.kernel_pid
        kernel = set(tree_pids(kernel_pid)) if kernel_pid is not None else None
        reading: Reading = {}
        for index, device in enumerate(devices):
            prefix = f"ipu.{_device_key(device, index)}."
            for attribute, (field, unit) in VARIABLE.items():
                if attribute in device:
                    reading[prefix + field] = parse_quantity(device[attribute], unit)
            user = _pid(device.get("user process id"))
            reading[prefix + "in_use"] = 1 if user is not None else 0
            if kernel is not None:
                reading[prefix + "used_by_kernel"] = 1 if user in kernel else 0
        return reading
