"""The sampler pool and its sources, in-process: scheduling, failures, parsing, attribution.

The end-to-end view (real kernels through `gclog run`) is in test_metrics.py.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gclog.config import load_settings
from gclog.entry.views import describe_setup
from gclog.errors import GclogError
from gclog.samplers import SAMPLERS, sampler_names
from gclog.samplers.base import Context, Reading, Sampler
from gclog.samplers.cells import CellMeter
from gclog.samplers.ipu import IpuSampler, parse_quantity
from gclog.samplers.nvidia import NvidiaSampler
from gclog.samplers.pool import PoolSettings, SamplerPool, reduce_window
from gclog.samplers.process import ProcessTree
from gclog.samplers.system import SystemSampler
from gclog.setting_types import METRIC_SOURCES, parse_metric_sources

FAKES = Path(__file__).parent / "fakes"
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"


def load_fake(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FAKES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module runs: lend it the name,
    # then give back whatever held it (the real library, or nothing)
    held = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if held is None:
            del sys.modules[name]
        else:
            sys.modules[name] = held
    return module


# -- the registry and the settings -------------------------------------------------------------


def test_one_registry_names_every_source() -> None:
    assert sampler_names() == ["system", "process", "ipu", "nvidia"]
    assert tuple(sampler_names()) == METRIC_SOURCES  # the setting knows every sampler, in order
    assert all(issubclass(source, Sampler) for source in SAMPLERS)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("all", "all"),
        ("on", "all"),
        ("none", "none"),
        ("off", "none"),
        ("0", "none"),
        ("nvidia, system", "system,nvidia"),
        ("process", "process"),
    ],
)
def test_metrics_setting(text: str, parsed: str) -> None:
    assert parse_metric_sources(text) == parsed


def test_metric_settings_from_flags_env_and_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("metrics_window = 30\nmetrics_interval = 5\n")
    env = {"GCLOG_HOME": str(tmp_path), "GCLOG_METRICS_INTERVAL": "3"}
    settings = load_settings({"metrics_busy_interval": 0.25}, env=env)
    assert settings.metrics == "all"
    assert settings.metrics_window == 30.0  # config file
    assert settings.metrics_interval == 3.0  # environment beats the file
    assert settings.metrics_busy_interval == 0.25  # flag
    pool = PoolSettings.from_settings(settings)
    assert (pool.window_s, pool.interval_s, pool.busy_interval_s) == (30.0, 3.0, 0.25)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("GCLOG_METRICS", "gpu", "unknown metric source 'gpu'"),
        ("GCLOG_METRICS_INTERVAL", "0", "expected a finite number of seconds, at least 0.1"),
        ("GCLOG_METRICS_WINDOW", "soon", "expected a number of seconds"),
    ],
)
def test_bad_metric_settings_are_one_clear_error(
    tmp_path: Path, name: str, value: str, expected: str
) -> None:
    with pytest.raises(GclogError) as caught:
        load_settings(env={"GCLOG_HOME": str(tmp_path), name: value})
    assert str(caught.value).startswith(f"environment {name}: ")
    assert expected in str(caught.value)


# -- parsing what gcipuinfo says ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "number"),
    [
        ("37.5%", "%", 37.5),
        ("88.1W", "W", 88.1),
        ("41.2C", "C", 41.2),
        ("17.8 C", "C", 17.8),  # gc-info puts a space before some units
        ("1850MHz", "MHz", 1850.0),
        ("1.2GHz", "MHz", 1200.0),
        ("500mW", "W", 0.5),
        ("16.0 GT/s", "GT/s", 16.0),
        ("16911433728", "", 16911433728.0),
        (" 21.25% ", "%", 21.25),
        ("N/A", "W", None),
        ("", "W", None),
        ("12W", "C", None),  # the wrong unit is no reading, not a wrong number
        ("hot", "C", None),
        ("12 parsecs", None, None),
        (None, "W", None),
        (float("nan"), None, None),
        (True, None, None),
        (3, None, 3.0),
    ],
)
def test_parse_quantity(value: Any, unit: str | None, number: float | None) -> None:
    assert parse_quantity(value, unit) == number


# -- reducing a window ---------------------------------------------------------------------------


def test_reduce_window_mean_max_last_and_counters() -> None:
    readings: list[Reading] = [
        {"s.cpu_percent": 10.0, "s.bytes_total": 100, "s.temp_c": None},
        {"s.cpu_percent": 30.0, "s.bytes_total": 250},
        {"s.cpu_percent": None, "s.bytes_total": 300, "s.temp_c": None},
        {"s.cpu_percent": 20.0},
    ]
    assert reduce_window(readings) == {
        "s.cpu_percent": {"mean": 20.0, "max": 30.0, "last": 20.0},
        "s.bytes_total": {"last": 300},  # a cumulative counter keeps its last value only
    }  # a field that never had a number is left out


# -- the pool: schedules, failures, hangs --------------------------------------------------------


class Ticker(Sampler):
    name = "ticker"
    count = 0

    def sample(self) -> Reading:
        Ticker.count += 1
        return {"ticker.n": Ticker.count, "ticker.bad": "text is not a number"}  # type: ignore[dict-item]


class Raiser(Sampler):
    name = "raiser"

    def sample(self) -> Reading:
        raise OSError("device went away")


class Hanger(Sampler):
    name = "hanger"
    release = threading.Event()
    calls = 0

    def sample(self) -> Reading:
        Hanger.calls += 1
        if Hanger.calls > 2:
            Hanger.release.wait(30)  # the third reading never comes back (until the test ends)
        return {"hanger.x": 1.0}


class SlowProbe(Sampler):
    name = "slowprobe"
    release = threading.Event()

    def probe(self) -> dict[str, Any]:
        SlowProbe.release.wait(30)
        return {}

    def sample(self) -> Reading:
        return {"slowprobe.x": 1.0}


class FirstReadingHangs(Sampler):
    name = "firsthang"

    def sample(self) -> Reading:
        SlowProbe.release.wait(30)
        return {"firsthang.x": 1.0}


class Missing(Sampler):
    name = "missing"

    def unavailable(self) -> str | None:
        return "its library is not installed"

    def sample(self) -> Reading:
        raise AssertionError("an unavailable source is never sampled")


def test_failing_and_hanging_sources_are_switched_off_alone() -> None:
    Hanger.release.clear()
    SlowProbe.release.clear()
    warnings: list[str] = []
    records: list[dict[str, Any]] = []
    settings = PoolSettings(
        interval_s=0.05, window_s=0.3, hang_after_s=0.5, probe_timeout_s=0.5, busy_interval_s=0.05
    )
    pool = SamplerPool(
        settings,
        Context(),
        samplers=[Ticker, Raiser, Hanger, SlowProbe, FirstReadingHangs, Missing],
        warn=warnings.append,
    )
    try:
        setup = pool.start()
        pool.publish(records.append)
        assert setup["sources"]["ticker"]["on"] and setup["sources"]["hanger"]["on"]
        assert setup["sources"]["slowprobe"] == {
            "on": False,
            "reason": "probe did not finish within 0.5s",
            "facts": {},
            "fields_off": {},
        }
        assert setup["sources"]["firsthang"]["on"] is False  # the first reading is in the probe
        assert setup["sources"]["firsthang"]["reason"] == "probe did not finish within 0.5s"
        assert setup["sources"]["missing"]["reason"] == "its library is not installed"
        ticks_at_hang = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.05)
            with pool.lock:
                hanger_on = any(w.on for w in pool.workers if w.name_ == "hanger")
            if not hanger_on and ticks_at_hang is None:
                ticks_at_hang = Ticker.count
            if ticks_at_hang is not None and Ticker.count >= ticks_at_hang + 5:
                break
        assert ticks_at_hang is not None, "the hung source was never switched off"
        assert Ticker.count >= ticks_at_hang + 5, "the other sources stopped with the hung one"
    finally:
        pool.stop()
        Hanger.release.set()
        SlowProbe.release.set()

    off = {k: v for record in records for k, v in record["off"].items()}
    assert off["raiser"] == "sample() failed 3 times in a row (OSError: device went away)"
    assert off["hanger"] == "sample() did not return within 0.5s"
    # One warning per source switched off, and none for the others.
    assert sorted(warnings) == [
        "metrics: hanger switched off: sample() did not return within 0.5s",
        "metrics: raiser switched off: sample() failed 3 times in a row (OSError: device went away)",
    ]
    assert len(records) >= 2, "windows kept coming"
    ticks = [r["values"]["ticker.n"] for r in records if "ticker.n" in r["values"]]
    assert ticks[-1]["last"] == Ticker.count, "the last reading (at stop) is in the last window"
    assert all("ticker.bad" not in r["values"] for r in records), "only numbers are recorded"
    assert all("raiser" not in r["samples"] for r in records)
    assert all("firsthang" not in r["samples"] for r in records)
    final = pool.setup()["sources"]
    assert final["raiser"]["on"] is False and final["hanger"]["on"] is False
    assert final["ticker"]["on"] is True


class EdgeCounter(Sampler):
    name = "process"  # what per-cell attribution reads
    follows_cells = True
    read_at_cell_edges = True
    calls = 0

    def sample(self) -> Reading:
        EdgeCounter.calls += 1
        return {"process.cpu_seconds_total": EdgeCounter.calls / 100, "process.rss_bytes": 1}


class AcceleratorCounter(Sampler):
    name = "accel"
    follows_cells = True
    calls = 0

    def sample(self) -> Reading:
        AcceleratorCounter.calls += 1
        return {"accel.0.power_w": 10.0}


def test_back_to_back_cells_cost_one_reading_each() -> None:
    EdgeCounter.calls = AcceleratorCounter.calls = 0
    settings = PoolSettings(interval_s=60, busy_interval_s=0.5, window_s=60)
    pool = SamplerPool(settings, Context(), samplers=[EdgeCounter, AcceleratorCounter])
    pool.start()
    assert (EdgeCounter.calls, AcceleratorCounter.calls) == (1, 1)  # the first readings
    started = time.monotonic()
    resources = []
    for n in range(100):
        pool.cell_started(str(n))
        resources.append(pool.cell_finished(str(n)))
    elapsed = time.monotonic() - started
    pool.stop()
    # Cell 1 reads at its start and end; every later one only at its end (the previous end, a
    # few milliseconds old, is its start). Busy-schedule readings may add one per 0.5 s.
    busy_readings = int(elapsed / 0.5) + 2
    assert 101 <= EdgeCounter.calls - 1 <= 101 + busy_readings + 1  # + the last one at stop
    # Accelerators are not read once per cell: at most once per busy interval.
    assert AcceleratorCounter.calls <= 2 + busy_readings + 1
    for cell in resources:
        assert cell is not None and cell["samples"] >= 2 and cell["cpu_seconds"] is not None


def test_metrics_switched_off_by_setting_start_nothing() -> None:
    pool = SamplerPool(
        PoolSettings(metrics="none", off_reason="switched off (flag --no-metrics)"), Context()
    )
    setup = pool.start()
    assert pool.workers == []
    assert {name: s["on"] for name, s in setup["sources"].items()} == dict.fromkeys(
        sampler_names(), False
    )
    pool.cell_started("cell-1")
    assert pool.cell_finished("cell-1") is None  # no resources without the process source
    pool.stop()
    assert describe_setup(setup) == (
        "metrics: system, process, ipu, nvidia off (switched off (flag --no-metrics))"
    )


def test_describe_setup_names_sources_and_fields_off() -> None:
    setup: Any = {
        "sources": {
            "system": {"on": True, "reason": None, "facts": {}, "fields_off": {}},
            "nvidia": {
                "on": True,
                "reason": None,
                "facts": {},
                "fields_off": {
                    "nvidia.0.power": "Not Supported",
                    "nvidia.1.power": "Not Supported",
                },
            },
            "ipu": {"on": False, "reason": "no gcipuinfo", "facts": {}, "fields_off": {}},
        }
    }
    assert describe_setup(setup) == (
        "metrics: system, nvidia on; nvidia.0.power, nvidia.1.power off (Not Supported); "
        "ipu off (no gcipuinfo)"
    )


# -- the kernel's process tree -----------------------------------------------------------------


def test_process_tree_counts_children_once_however_they_come_and_go() -> None:
    tree = ProcessTree(os.getpid())
    start = tree.read()
    assert start is not None and start["processes"] >= 1
    # A child that starts and is reaped between two readings: all of it, once.
    subprocess.run([sys.executable, "-c", BURN.format(s=0.5)], check=True)
    after_short = tree.read()
    assert after_short is not None
    assert 0.45 <= after_short["cpu_s"] - start["cpu_s"] <= 1.0
    # A child seen while it runs, then reaped: not counted twice.
    child = subprocess.Popen(
        [sys.executable, "-c", BURN.format(s=0.6) + "time.sleep(0.5)"], stdin=subprocess.PIPE
    )
    deadline = time.monotonic() + 10
    seen = tree.read()
    while seen is not None and seen["processes"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = tree.read()
    assert seen is not None and seen["processes"] >= 2, "the child was not seen in the tree"
    child.wait(timeout=20)
    end = tree.read()
    assert end is not None
    assert 0.55 <= end["cpu_s"] - after_short["cpu_s"] <= 1.1
    assert end["processes"] == start["processes"]


def test_process_tree_of_a_process_that_is_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert ProcessTree(proc.pid).read() is None


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_process_tree_keeps_its_proc_files_open_and_lets_them_go() -> None:
    """Readings reuse descriptors of /proc files, fresh each time; a child's go when it leaves
    the tree, a gone root's at once, and close() lets go of the rest."""
    before = _descriptors()
    child = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.4)])
    tree = ProcessTree(child.pid)
    first = tree.read()
    assert first is not None
    held = _descriptors()
    assert held > before
    deadline = time.monotonic() + 10
    later = tree.read()
    while later is not None and later["cpu_s"] <= first["cpu_s"] and time.monotonic() < deadline:
        time.sleep(0.05)
        later = tree.read()
    assert later is not None and later["cpu_s"] > first["cpu_s"], "readings were not fresh"
    assert _descriptors() == held  # the same descriptors, read again
    child.wait(timeout=20)
    assert tree.read() is None
    assert _descriptors() == before
    mine = ProcessTree(os.getpid())
    assert mine.read() is not None
    mine.close()
    assert _descriptors() == before


# -- per-cell attribution ----------------------------------------------------------------------


def _process_reading(cpu: float, rss: int, peak: int | None = None) -> Reading:
    return {
        "process.cpu_seconds_total": cpu,
        "process.rss_bytes": rss,
        "process.kernel_peak_rss_bytes": peak,
        "process.io_read_bytes_total": 0,
        "process.io_write_bytes_total": 4096,
        "process.processes": 1,
    }


def test_cell_meter_exact_cpu_peaks_and_spikes_between_readings() -> None:
    meter = CellMeter()
    mib = 2**20
    meter.add("process", 10.0, _process_reading(5.0, 100 * mib, peak=120 * mib))
    meter.add("process", 10.1, _process_reading(5.1, 110 * mib, peak=120 * mib))  # too close
    meter.add("process", 10.5, _process_reading(5.5, 105 * mib, peak=120 * mib))
    meter.add("process", 11.0, _process_reading(5.6, 101 * mib, peak=400 * mib))
    resources = meter.resources()
    assert resources["samples"] == 4
    assert resources["cpu_seconds"] == 0.6
    assert resources["cpu_percent_mean"] == 60.0
    assert resources["cpu_percent_peak"] == 100.0  # 0.5 s over 10.0-10.5 s
    # The kernel's all-time peak rose during the cell: a spike no reading caught.
    assert resources["rss_peak_bytes"] == 400 * mib
    assert resources["rss_growth_bytes"] == 300 * mib
    assert resources["rss_end_bytes"] == 101 * mib
    assert resources["io_write_bytes"] == 0
    assert resources["accelerators"] == {}


def test_cell_meter_short_cells_and_restarts_give_no_made_up_numbers() -> None:
    short = CellMeter()
    short.add("process", 1.0, _process_reading(1.0, 10))
    short.add("process", 1.01, _process_reading(1.01, 10))
    resources = short.resources()
    assert resources["cpu_seconds"] == 0.01
    assert resources["cpu_percent_mean"] is None and resources["cpu_percent_peak"] is None
    restarted = CellMeter()
    restarted.add("process", 1.0, _process_reading(9.0, 10))
    restarted.add("process", 2.0, _process_reading(0.5, 10))
    assert restarted.resources()["cpu_seconds"] is None


def test_cell_meter_keeps_the_accelerators_the_kernel_used() -> None:
    meter = CellMeter()
    meter.add("process", 0.0, _process_reading(0.0, 1))
    for at, util in ((0.1, 50.0), (0.6, 70.0)):
        meter.add(
            "ipu",
            at,
            {
                "ipu.0.utilisation_percent": util,
                "ipu.0.power_w": 90.0,
                "ipu.0.die_temp_c": 40.0,
                "ipu.0.used_by_kernel": 1,
                "ipu.1.utilisation_percent": 99.0,
                "ipu.1.used_by_kernel": 0,
            },
        )
    meter.add("nvidia", 0.2, {"nvidia.0.utilization_percent": 10, "nvidia.0.used_by_kernel": None})
    assert meter.resources()["accelerators"] == {
        "ipu.0.utilisation_percent": {"mean": 60.0, "max": 70.0},
        "ipu.0.power_w": {"mean": 90.0, "max": 90.0},
        # Which process uses the GPU could not be told (container pids): kept.
        "nvidia.0.utilization_percent": {"mean": 10.0, "max": 10.0},
    }


# -- sources ---------------------------------------------------------------------------------------


def test_system_source_reads_the_machine() -> None:
    system = SystemSampler(Context())
    assert system.unavailable() is None
    facts = system.probe()
    assert facts["cpu_logical"] >= 1 and facts["memory_total_bytes"] > 0
    first = system.sample()
    assert first["system.cpu_percent"] is None  # no rate from a single reading
    time.sleep(0.3)
    second = system.sample()
    assert second["system.cpu_percent"] is not None
    assert 0.0 <= second["system.cpu_percent"] <= 100.0
    assert f"system.cpu{facts['cpu_logical'] - 1}_percent" in second
    assert (second["system.memory_used_bytes"] or 0) > 0


@pytest.mark.skipif(
    ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver"
)
def test_nvidia_without_a_driver_is_off_with_nvmls_own_reason() -> None:
    import pynvml

    assert "fakes" not in (pynvml.__file__ or ""), "this test needs the real nvidia-ml-py"
    source = NvidiaSampler(Context())
    assert source.unavailable() == "NVML did not start: NVML Shared Library Not Found"


_NVIDIA_IN_A_FRESH_PROCESS = (
    "import sys; from gclog.samplers.base import Context; "
    "from gclog.samplers.nvidia import NvidiaSampler; "
    "print(NvidiaSampler(Context()).unavailable()); print('pynvml' in sys.modules)"
)


@pytest.mark.skipif(
    ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver"
)
def test_nvidia_without_a_driver_gives_nvmls_reason_without_importing_it() -> None:
    """nvidia-ml-py costs ~4 MB once imported: without libnvidia-ml it is not imported at all,
    and the reason is the one its nvmlInit gives (the test above holds the two together)."""
    result = subprocess.run(
        [sys.executable, "-c", _NVIDIA_IN_A_FRESH_PROCESS], capture_output=True, text=True
    )
    assert result.stdout.splitlines() == [
        "NVML did not start: NVML Shared Library Not Found",
        "False",
    ]


def test_another_pynvml_on_the_path_is_still_imported() -> None:
    """The gate knows nvidia-ml-py's own file only: any other pynvml (here the fake) is asked."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", _NVIDIA_IN_A_FRESH_PROCESS], capture_output=True, text=True, env=env
    )
    assert result.stdout.splitlines() == ["None", "True"], result.stderr


def test_nvidia_with_a_failing_call_switches_off_that_field_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", load_fake("pynvml"))
    source = NvidiaSampler(Context(kernel_pid=os.getpid()))
    assert source.unavailable() is None
    facts = source.probe()
    assert facts["driver_version"] == "550.127.05" and facts["cuda_driver_version"] == "12.4"
    assert facts["devices"][0]["name"] == "NVIDIA A40"
    assert facts["devices"][0]["power_limit_w"] == 300.0
    for _ in range(2):
        reading = source.sample()
        assert source.fields_off == {"nvidia.0.power": "NVMLError_NotSupported: Not Supported"}
        assert "nvidia.0.power_w" not in reading
        assert reading["nvidia.0.utilization_percent"] == 63
        assert reading["nvidia.0.memory_used_bytes"] == 4 * 2**30
        assert reading["nvidia.0.temperature_c"] == 54
        assert reading["nvidia.0.sm_clock_mhz"] == 1740
        assert reading["nvidia.0.used_by_kernel"] == 0  # no kernel below this test process
    source.close()


def test_nvidia_source_with_every_call_failing_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = load_fake("pynvml")

    def fails(*args: Any) -> Any:
        raise fake.NVMLError(fake.NVML_ERROR_NO_PERMISSION)

    for name in dir(fake):
        if name.startswith("nvmlDeviceGet") and name not in (
            "nvmlDeviceGetCount",
            "nvmlDeviceGetHandleByIndex",
        ):
            monkeypatch.setattr(fake, name, fails)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    source = NvidiaSampler(Context())
    assert source.unavailable() is None
    with pytest.raises(RuntimeError, match="every NVML call failed"):
        source.sample()


def test_ipu_source_on_the_fake_gcipuinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gcipuinfo", load_fake("gcipuinfo"))
    source = IpuSampler(Context())
    assert source.unavailable() is None
    facts = source.probe()
    assert facts["device_count"] == 2
    assert facts["devices"][0]["board_type"] == "C600"
    assert "board_serial_number" not in facts["devices"][0]
    reading = source.sample()
    assert reading["ipu.0.power_w"] == 88.1
    assert reading["ipu.1.power_w"] is None  # "N/A"
    assert reading["ipu.0.utilisation_session_percent"] is None
    assert reading["ipu.1.in_use"] == 1
    assert "ipu.0.used_by_kernel" not in reading  # no kernel pid known


def test_ipu_source_is_off_without_gcipuinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gcipuinfo", None)  # import fails, as without the SDK
    assert IpuSampler(Context()).unavailable() == (
        "gcipuinfo is not importable — it ships with Graphcore's Poplar SDK"
    )


def test_a_fully_busy_machine_reads_100_percent_not_a_hair_over() -> None:
    from gclog.samplers.system import _busy_percent

    assert _busy_percent(2.0000000000061, 2.0) == 100.0
    assert _busy_percent(-1e-12, 2.0) == 0.0
    assert _busy_percent(0.5, 2.0) == 25.0
    assert _busy_percent(None, 2.0) is None and _busy_percent(1.0, 0.0) is None
