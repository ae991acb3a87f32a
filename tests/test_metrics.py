"""Metrics through the real `gclog run`: real kernels, the cell records' resources, the metrics
records, and the accelerator sources (fakes with the real API, since no IPU or GPU is here).
"""

from __future__ import annotations

import ctypes.util
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import Env, by_type, one_line_error, write_notebook

FAKES = str(Path(__file__).parent / "fakes")
MB = 1_000_000
BURN_1S = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.0:\n    pass"


def metrics_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("gclog: metrics: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_cell_resources_from_the_kernels_process_tree(env: Env) -> None:
    nb = write_notebook(
        env.root / "n.ipynb",
        "x = b'x' * (200 * 2**20)",  # ~210 MB kept
        BURN_1S,
        "import time\ntime.sleep(1)",
        "y = b'y' * (200 * 2**20)\ndel y",  # a spike, gone before the cell ends
    )
    result = env.gclog("run", str(nb))
    assert result.returncode == 0, result.stderr
    records = env.records()
    cells = by_type(records, "cell")
    keep, burn, sleep, spike = (cell["resources"] for cell in cells)

    assert keep["rss_growth_bytes"] >= 150 * MB
    assert keep["rss_end_bytes"] - keep["rss_start_bytes"] >= 150 * MB
    assert 0.7 <= burn["cpu_seconds"] <= 1.5
    # Mean CPU % is the CPU seconds over the cell's time (how much of a core it got depends on
    # the machine's load, so only the arithmetic is checked).
    expected_mean = 100 * burn["cpu_seconds"] / cells[1]["duration_s"]
    assert abs(burn["cpu_percent_mean"] - expected_mean) <= 0.15 * expected_mean
    assert burn["cpu_percent_peak"] is not None
    assert sleep["cpu_seconds"] <= 0.2
    assert sleep["rss_growth_bytes"] < 20 * MB
    # The spike came and went between readings; the kernel's peak RSS still shows it.
    assert spike["rss_growth_bytes"] >= 150 * MB
    assert spike["rss_end_bytes"] - spike["rss_start_bytes"] < 50 * MB
    for resources in (keep, burn, sleep, spike):
        assert resources["samples"] >= 2 and resources["processes_peak"] == 1
        assert resources["accelerators"] == {}

    start = records[0]["metrics"]
    assert start["window_s"] == 10.0 and start["interval_s"] == 2.0
    sources = start["sources"]
    assert sources["system"]["on"] and sources["process"]["on"]
    assert sources["process"]["facts"]["kernel_pid"] > 0
    assert sources["ipu"] == {
        "on": False,
        "reason": "gcipuinfo is not importable — it ships with Graphcore's Poplar SDK",
        "facts": {},
        "fields_off": {},
    }
    assert sources["nvidia"]["on"] is False and sources["nvidia"]["reason"]
    line = metrics_line(result.stderr)
    assert line.startswith("gclog: metrics: system, process on; ipu off (gcipuinfo is not")
    assert "nvidia off (" in line

    # A session shorter than one window still has its metrics: first and last readings.
    windows = by_type(records, "metrics")
    assert windows, "no metrics record"
    assert records[-1]["event_type"] == "session_end"
    values = windows[-1]["values"]
    assert 0 <= values["system.cpu_percent"]["mean"] <= 100
    assert values["process.rss_bytes"]["max"] >= 200 * MB
    assert values["process.cpu_seconds_total"] == {
        "last": values["process.cpu_seconds_total"]["last"]
    }
    assert sum(w["samples"]["system"] for w in windows) >= 2


@pytest.mark.skipif(
    ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver"
)
def test_no_gpu_here_the_real_nvidia_ml_py_says_why(env: Env) -> None:
    nb = write_notebook(env.root / "n.ipynb", "1")
    result = env.gclog("run", str(nb), GCLOG_METRICS="nvidia,system")
    assert result.returncode == 0, result.stderr
    nvidia = env.records()[0]["metrics"]["sources"]["nvidia"]
    assert nvidia["reason"] == "NVML did not start: NVML Shared Library Not Found"
    assert metrics_line(result.stderr) == (
        "gclog: metrics: system on; nvidia off (NVML did not start: NVML Shared Library Not Found); "
        "process, ipu off (switched off by metrics = system,nvidia, from environment GCLOG_METRICS)"
    )


def test_fake_ipus_and_gpu_give_per_device_metrics_and_board_facts(env: Env) -> None:
    nb = write_notebook(env.root / "n.ipynb", "import time\ntime.sleep(1.2)")
    result = env.gclog("run", str(nb), PYTHONPATH=FAKES)
    assert result.returncode == 0, result.stderr
    records = env.records()
    assert metrics_line(result.stderr) == (
        "gclog: metrics: system, process, ipu, nvidia on; "
        "nvidia.0.power off (NVMLError_NotSupported: Not Supported)"
    )
    sources = records[0]["metrics"]["sources"]
    ipu = sources["ipu"]
    assert ipu["on"] and ipu["facts"]["device_count"] == 2
    assert ipu["facts"]["devices"][0] == {
        "id": "0",
        "board_type": "C600",
        "board_variant": "C600",
        "ipu_architecture": "ipu21",
        "firmware_version": "2.6.8",
        "driver_version": "1.3.0",
        "link_speed": "16.0 GT/s",
        "link_width": "8",
    }
    nvidia = sources["nvidia"]
    assert nvidia["on"] and nvidia["facts"]["devices"][0]["name"] == "NVIDIA A40"
    assert nvidia["fields_off"] == {"nvidia.0.power": "NVMLError_NotSupported: Not Supported"}
    # No serial numbers leave the machine.
    assert all("822391" not in json.dumps(record) for record in records)

    values: dict[str, Any] = {}
    for window in by_type(records, "metrics"):
        values.update(window["values"])
    assert values["ipu.0.utilisation_percent"]["mean"] == 37.5
    assert values["ipu.0.power_w"]["max"] == 88.1
    assert values["ipu.0.die_temp_c"]["last"] == 41.2
    assert values["ipu.0.board_temp_c"]["last"] == 30.5
    assert values["ipu.0.clock_mhz"]["last"] == 1850.0
    assert values["ipu.0.used_by_kernel"]["last"] == 1
    assert values["ipu.1.used_by_kernel"]["last"] == 0 and values["ipu.1.in_use"]["last"] == 1
    assert "ipu.1.power_w" not in values  # "N/A" is no reading
    assert "ipu.0.utilisation_session_percent" not in values
    assert values["nvidia.0.utilization_percent"]["mean"] == 63
    assert values["nvidia.0.temperature_c"]["last"] == 54
    assert values["nvidia.0.kernel_memory_bytes"]["last"] == 2**30
    assert values["nvidia.0.used_by_kernel"]["last"] == 1
    assert "nvidia.0.power_w" not in values  # that call failed: that field only is off

    (cell,) = by_type(records, "cell")
    accelerators = cell["resources"]["accelerators"]
    assert accelerators["ipu.0.utilisation_percent"] == {"mean": 37.5, "max": 37.5}
    assert accelerators["ipu.0.power_w"] == {"mean": 88.1, "max": 88.1}
    assert accelerators["nvidia.0.utilization_percent"] == {"mean": 63.0, "max": 63.0}
    assert accelerators["nvidia.0.kernel_memory_bytes"]["max"] == 2**30
    assert not any(name.startswith("ipu.1.") for name in accelerators), "ipu 1 is not the kernel's"


def test_a_source_that_keeps_failing_is_switched_off_alone(env: Env) -> None:
    nb = write_notebook(env.root / "n.ipynb", "import time\ntime.sleep(2.5)", "1 + 1")
    result = env.gclog(
        "run",
        str(nb),
        PYTHONPATH=FAKES,
        FAKE_GCIPUINFO_FAIL_AFTER="2",  # gcipuinfo answers the probe, then fails every reading
        GCLOG_METRICS_INTERVAL="0.2",
        GCLOG_METRICS_WINDOW="1",
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "switched off" in line]
    assert warnings == [
        "gclog: warning: metrics: ipu switched off: sample() failed 3 times in a row "
        "(RuntimeError: IPU device discovery failed: ICU not responding)"
    ]
    records = env.records()
    assert records[0]["metrics"]["sources"]["ipu"]["on"] is True
    windows = by_type(records, "metrics")
    offs = [w["off"] for w in windows if w["off"]]
    assert offs == [{"ipu": warnings[0].split("ipu switched off: ")[1]}]
    assert len(windows) >= 2
    # The other sources went on reading to the end.
    last = windows[-1]
    assert {"system", "process", "nvidia"} <= set(last["samples"])
    assert "ipu" not in last["samples"]
    assert all(cell["status"] == "ok" for cell in by_type(records, "cell"))


def test_metrics_can_be_switched_off(env: Env) -> None:
    nb = write_notebook(env.root / "n.ipynb", "1")
    result = env.gclog("run", str(nb), "--no-metrics")
    assert result.returncode == 0, result.stderr
    records = env.records()
    assert by_type(records, "metrics") == []
    assert "resources" not in by_type(records, "cell")[0]
    sources = records[0]["metrics"]["sources"]
    reason = "switched off by metrics = none, from flag --metrics"
    assert sources == {
        name: {"on": False, "reason": reason, "facts": {}, "fields_off": {}}
        for name in ("system", "process", "ipu", "nvidia")
    }
    assert (
        metrics_line(result.stderr)
        == f"gclog: metrics: system, process, ipu, nvidia off ({reason})"
    )


def test_metric_flags_and_bad_values(env: Env) -> None:
    nb = write_notebook(env.root / "n.ipynb", "import time\ntime.sleep(0.6)")
    result = env.gclog(
        "run",
        str(nb),
        "--metrics",
        "process",
        "--metrics-interval",
        "0.2",
        "--metrics-busy-interval",
        "0.1",
        "--metrics-window",
        "0.5",
    )
    assert result.returncode == 0, result.stderr
    records = env.records()
    start = records[0]["metrics"]
    assert (start["interval_s"], start["busy_interval_s"], start["window_s"]) == (0.2, 0.1, 0.5)
    assert [name for name, s in start["sources"].items() if s["on"]] == ["process"]
    assert all(set(w["samples"]) == {"process"} for w in by_type(records, "metrics"))
    (cell,) = by_type(records, "cell")
    assert cell["resources"]["samples"] >= 4  # start, end, and busy-interval readings between

    bad = env.gclog("run", str(nb), "--metrics", "gpu")
    assert bad.returncode == 2
    assert "unknown metric source 'gpu'" in one_line_error(bad.stderr)
    bad = env.gclog("run", str(nb), "--metrics-window", "-1")
    assert bad.returncode == 2
    assert "--metrics-window" in one_line_error(bad.stderr)
