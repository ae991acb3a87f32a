"""A fake ``gcipuinfo`` (Graphcore Poplar SDK) for tests: same API surface, two IPUs.

Device 0 is used by the kernel process: the ``ipykernel`` child of the process that imports this
module (``gclog run``). Device 1 is used by another process (pid 1). Values are strings with unit
suffixes, and "N/A" where the real library says so.
"""

from __future__ import annotations

import json
import os

import psutil

# Discovery modes and attribute names, as the real module exposes them.
DiscoverActivePartitionIPUs = 1
DiscoverAllIPUs = 0
IpuPower = "ipu power"
IpuUtilisation = "ipu utilisation"
AverageDieTemp = "average die temp"
AverageBoardTemp = "average board temp"
ClockFrequency = "clock"
UserProcessId = "user process id"

_calls = {"getDevices": 0}


def _kernel_pid() -> str:
    for child in psutil.Process().children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                return str(child.pid)
        except psutil.Error:
            continue
    return ""


class gcipuinfo:  # the real class has this lower-case name
    def __init__(self, discovery_mode: int = DiscoverAllIPUs) -> None:
        self.discovery_mode = discovery_mode
        self.update_mode = False

    def setUpdateMode(self, update: bool) -> None:
        self.update_mode = bool(update)

    def getDevices(self) -> list[dict[str, str]]:
        _calls["getDevices"] += 1
        fail_after = os.environ.get("FAKE_GCIPUINFO_FAIL_AFTER")
        if fail_after is not None and _calls["getDevices"] > int(fail_after):
            raise RuntimeError("IPU device discovery failed: ICU not responding")
        common = {
            "target": "PCIe",
            "board type": "C600",
            "board variant": "C600",
            "board serial number": "0063.0063.822391",
            "ipu architecture": "ipu21",
            "firmware version": "2.6.8",
            "driver version": "1.3.0",
            "link speed": "16.0 GT/s",
            "link width": "8",
        }
        return [
            {
                **common,
                "id": "0",
                "board ipu index": "0",
                "user process id": _kernel_pid(),
                "ipu utilisation": "37.5%",
                "ipu utilisation (session)": "N/A",
                "ipu power": "88.1W",
                "average die temp": "41.2C",
                "average board temp": "30.5 C",
                "clock": "1850MHz",
                "hexoatt active size (bytes)": "1048576",
            },
            {
                **common,
                "id": "1",
                "board ipu index": "1",
                "user process id": "1",
                "ipu utilisation": "0.00%",
                "ipu utilisation (session)": "0.00%",
                "ipu power": "N/A",
                "average die temp": "20.0 C",
                "average board temp": "17.8 C",
                "clock": "1850MHz",
                "hexoatt active size (bytes)": "0",
            },
        ]

    def getDevicesAsJSON(self) -> str:
        return json.dumps(self.getDevices())

    def getNamedAttributeForAll(self, attribute: str) -> list[str]:
        return [device.get(attribute, "N/A") for device in self.getDevices()]

    def getNamedAttributeForDevice(self, device_id: int, attribute: str) -> str:
        return self.getDevices()[device_id].get(attribute, "N/A")
