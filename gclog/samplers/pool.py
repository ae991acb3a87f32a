"""The sampler pool: every source on its own thread and schedule, windows reduced into records.

- Each source runs in a thread of its own, so a slow or hung source never delays another. The
  first reading is taken as soon as the source has probed (at session start), and a last one
  when the pool stops, so even a session shorter than one interval has data.
- A source whose ``sample()`` raises ``FAILURES_TO_SWITCH_OFF`` times in a row, or does not return
  within ``hang_after_s``, is switched off alone, with one warning; it stays in the records as
  off, with why. A probe that does not finish within ``probe_timeout_s`` counts as off too.
- A clock thread reduces each source's readings every ``window_s`` into one ``metrics`` record
  (mean, max and last per field) and watches for hung sources.
- While a cell runs, the sources that follow cells (the kernel's processes, the accelerators) are
  read every ``busy_interval_s``; those read at cell edges (the process tree) are also read when
  the cell starts and ends, on the caller's thread, so the cell's CPU seconds are exact.

The pool never calls one source from two threads at once (each source has a lock).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gclog.config import Settings
from gclog.records import CellResources, MetricSource, MetricsSetup, Reduced, now_iso
from gclog.samplers import SAMPLERS
from gclog.samplers.base import Context, Reading, Sampler, describe
from gclog.samplers.cells import CellMeter
from gclog.setting_types import chosen_metric_sources
from gclog.warn import warn

FAILURES_TO_SWITCH_OFF = 3
EDGE_LOCK_WAIT_S = 0.5  # a cell edge never waits longer than this for a source busy elsewhere
# A reading this recent serves as the next cell's start: between two cells the kernel is idle,
# so back-to-back cells (the previous one's end reading) need one reading each, not two.
EDGE_REUSE_S = 0.05

Warn = Callable[[str], None]
Emit = Callable[[dict[str, Any]], Any]


def warn_on_stderr(message: str) -> None:
    warn(message)  # the one warn path: the live view when one shows, else stderr


@dataclass(frozen=True)
class PoolSettings:
    interval_s: float = 2.0
    busy_interval_s: float = 0.5
    window_s: float = 10.0
    metrics: str = "all"  # the metrics setting: all, none, or the sources chosen
    off_reason: str | None = None  # why the sources not chosen are off
    hang_after_s: float = 15.0
    probe_timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolSettings:
        origin = settings.origin_of("metrics")
        return cls(
            interval_s=settings.metrics_interval,
            busy_interval_s=settings.metrics_busy_interval,
            window_s=settings.metrics_window,
            metrics=settings.metrics,
            off_reason=f"switched off by metrics = {settings.metrics}, from {origin}",
        )


def reduce_window(readings: Iterable[Reading]) -> dict[str, Reduced]:
    """Per field: mean, max and last of the numbers read (``_total`` counters: last only)."""
    values: dict[str, list[float]] = {}
    for reading in readings:
        for field, value in reading.items():
            if value is not None:
                values.setdefault(field, []).append(value)
    reduced: dict[str, Reduced] = {}
    for field, numbers in values.items():
        if field.endswith("_total"):
            reduced[field] = {"last": numbers[-1]}
        else:
            reduced[field] = {
                "mean": round(sum(numbers) / len(numbers), 3),
                "max": numbers[0] if len(numbers) == 1 else max(numbers),
                "last": numbers[-1],
            }
    return reduced


def _clean(reading: Any) -> Reading:
    """Only numbers (or None) go into records; a source returning anything else is failing."""
    if not isinstance(reading, dict):
        raise TypeError(f"sample() returned {type(reading).__name__}, not a dict")
    clean: Reading = {}
    for field, value in reading.items():
        if isinstance(value, bool):
            value = int(value)
        if value is None or isinstance(value, int):
            clean[str(field)] = value
        elif isinstance(value, float):
            clean[str(field)] = round(value, 3) if math.isfinite(value) else None
    return clean


class _Worker(threading.Thread):
    """One source, on its own thread: probe once, then read on its schedule until stopped."""

    def __init__(self, sampler: Sampler, pool: SamplerPool) -> None:
        super().__init__(name=f"gclog-metrics-{sampler.name}", daemon=True)
        self.sampler = sampler
        self.pool = pool
        self.name_ = sampler.name
        self.on = False
        self.reason: str | None = "not probed yet"
        self.facts: dict[str, Any] = {}
        self.probed = threading.Event()
        self.wake = threading.Event()  # look again at when the next reading is due
        self.now = threading.Event()  # take the next reading now
        self.lock = threading.Lock()  # one call into the sampler at a time
        self.readings: list[Reading] = []  # this window's, guarded by pool.lock
        self.last: tuple[float, Reading] | None = None  # when, and the latest reading
        self.on_busy_schedule = False  # whether its current wait is the busy interval
        self.failures = 0
        self.sampling_since: float | None = None
        self.fields_off: dict[str, str] = {}  # the sampler's, as of its last reading

    def run(self) -> None:
        try:
            reason = self.sampler.unavailable()
            facts = self.sampler.probe() if reason is None else {}
        except Exception as exc:
            reason, facts = f"probe failed: {describe(exc)}", {}
        with self.pool.lock:
            late = self.probed.is_set()  # the pool already reported it off
            if not late:
                self.on, self.reason, self.facts = reason is None, reason, facts
        if late:
            self.sampler.close()
            return
        if reason is not None:
            self.probed.set()
            self.sampler.close()
            return
        # The first reading is part of the start: fields that fail at once (a GPU without a
        # power sensor) are then known to session_start, and short sessions get data.
        self.sample(first=True)
        self.probed.set()
        while self.on:
            self._wait(since=time.monotonic())
            self.sample()
            if self.pool.stopping.is_set():
                return  # that was the last reading

    def _wait(self, since: float) -> None:
        """Until the next reading is due; a cell starting or ending changes when that is."""
        settings = self.pool.settings
        while not (self.pool.stopping.is_set() or self.now.is_set()):
            busy = self.sampler.follows_cells and self.pool.cells_running()
            self.on_busy_schedule = busy
            due = since + (settings.busy_interval_s if busy else settings.interval_s)
            if time.monotonic() >= due:
                return
            self.wake.wait(due - time.monotonic())
            self.wake.clear()
        self.now.clear()

    def sample(self, wait: float | None = None, first: bool = False) -> Reading | None:
        """Take one reading and hand it to the pool; None if the source is off or busy."""
        if not self.lock.acquire(timeout=-1 if wait is None else wait):
            return None
        try:
            if not self.on:
                return None
            self.sampling_since = time.monotonic()
            try:
                reading = _clean(self.sampler.sample())
            except Exception as exc:
                self.failures += 1
                if self.failures >= FAILURES_TO_SWITCH_OFF:
                    self.pool.switch_off(
                        self, f"sample() failed {self.failures} times in a row ({describe(exc)})"
                    )
                return None
            finally:
                self.sampling_since = None
            self.failures = 0
            self.pool.record(self, reading, dict(self.sampler.fields_off), quiet=first)
            return reading
        finally:
            self.lock.release()


class SamplerPool:
    def __init__(
        self,
        settings: PoolSettings,
        context: Context,
        samplers: Iterable[type[Sampler]] = SAMPLERS,
        warn: Warn = warn_on_stderr,
    ) -> None:
        self.settings = settings
        self.context = context
        self.warn = warn
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.samplers = list(samplers)
        every = {sampler.name for sampler in self.samplers}
        wanted = (
            every if settings.metrics == "all" else set(chosen_metric_sources(settings.metrics))
        )
        self.workers = [_Worker(cls(context), self) for cls in self.samplers if cls.name in wanted]
        self.not_chosen = [cls.name for cls in self.samplers if cls.name not in wanted]
        self.cells: dict[str, CellMeter] = {}
        self.off_in_window: dict[str, str] = {}
        self.window_started = (time.monotonic(), now_iso())
        self._emit: Emit | None = None
        self._clock: threading.Thread | None = None
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> MetricsSetup:
        """Probe every source (in parallel, bounded) and start reading; returns what is on."""
        self.window_started = (time.monotonic(), now_iso())
        for worker in self.workers:
            worker.start()
        deadline = time.monotonic() + self.settings.probe_timeout_s
        for worker in self.workers:
            if not worker.probed.wait(max(0.0, deadline - time.monotonic())):
                with self.lock:
                    if not worker.probed.is_set():
                        worker.on = False  # its first reading may be what hangs
                        worker.reason = (
                            f"probe did not finish within {self.settings.probe_timeout_s:g}s"
                        )
                        worker.probed.set()
        return self.setup()

    def setup(self) -> MetricsSetup:
        sources: dict[str, MetricSource] = {}
        for worker in self.workers:
            sources[worker.name_] = {
                "on": worker.on,
                "reason": worker.reason,
                "facts": worker.facts,
                "fields_off": dict(worker.fields_off),
            }
        for name in self.not_chosen:
            sources[name] = {
                "on": False,
                "reason": self.settings.off_reason or "not chosen",
                "facts": {},
                "fields_off": {},
            }
        return {
            "interval_s": self.settings.interval_s,
            "busy_interval_s": self.settings.busy_interval_s,
            "window_s": self.settings.window_s,
            "sources": sources,
        }

    def publish(self, emit: Emit) -> None:
        """Start emitting a ``metrics`` record's fields every window (after session_start)."""
        self._emit = emit
        if any(worker.on for worker in self.workers):
            self._clock = threading.Thread(
                target=self._tick, name="gclog-metrics-clock", daemon=True
            )
            self._clock.start()

    def stop(self) -> None:
        """Take a last reading from each source, emit the last window, release the sources."""
        if self._stopped:
            return
        self._stopped = True
        self.stopping.set()
        for worker in self.workers:
            worker.wake.set()
        deadline = time.monotonic() + 2.0
        for worker in self.workers:
            if worker.on and worker.is_alive():  # one switched off as hung is not waited for
                worker.join(max(0.0, deadline - time.monotonic()))
        if self._clock is not None:
            self._clock.join(2.0)
        self.flush()
        # A source still stuck in a call past the wait must not emit after session_end (or
        # into a store already closed): the last window is the one just flushed.
        self._emit = None
        for worker in self.workers:
            # A source still inside a call is left alone: closing under it could crash it.
            if worker.on and not worker.is_alive():
                with contextlib.suppress(Exception):
                    worker.sampler.close()

    def kernel_changed(self, kernel_pid: int | None) -> None:
        """The kernel restarted (a new process): follow the new one."""
        self.context.kernel_pid = kernel_pid

    # -- cells ---------------------------------------------------------------------------------------

    def cells_running(self) -> bool:
        return bool(self.cells)

    def cell_started(self, key: str) -> None:
        if not any(w.on and w.sampler.follows_cells for w in self.workers):
            return  # nothing to attribute: the cell record gets no resources
        meter = CellMeter()
        with self.lock:
            self.cells[key] = meter
        for worker in self.workers:
            if worker.on and worker.sampler.follows_cells:
                self._follow(worker, meter)

    def _follow(self, worker: _Worker, meter: CellMeter) -> None:
        """A cell started: give its meter a first reading, and put the source on the busy schedule.

        Many short cells in a row cost little: a reading a few milliseconds old serves as the
        start, and a thread is woken only when its schedule has to change.
        """
        with self.lock:
            recent = worker.last  # an empty reading (the kernel was gone) is no baseline
            age = time.monotonic() - recent[0] if recent is not None and recent[1] else math.inf
            if worker.sampler.read_at_cell_edges and recent is not None and age < EDGE_REUSE_S:
                meter.add(worker.name_, recent[0], recent[1])
        if worker.sampler.read_at_cell_edges:
            if age >= EDGE_REUSE_S:
                worker.sample(wait=EDGE_LOCK_WAIT_S)
        elif age >= self.settings.busy_interval_s:
            worker.now.set()  # a reading now: a short cell gets one too
            worker.wake.set()
            return
        if not worker.on_busy_schedule:
            worker.wake.set()

    def cell_discarded(self, key: str) -> None:
        """Not a cell after all (a silent request): forget its meter, take no reading."""
        with self.lock:
            self.cells.pop(key, None)

    def cell_finished(self, key: str) -> CellResources | None:
        with self.lock:
            known = key in self.cells
        if not known:
            return None  # its start was not seen (observation began mid-cell)
        for worker in self.workers:
            if worker.on and worker.sampler.read_at_cell_edges:
                worker.sample(wait=EDGE_LOCK_WAIT_S)
        with self.lock:
            meter = self.cells.pop(key, None)
        # No thread is woken: one on the busy schedule takes at most one more reading, then
        # goes back to the idle one by itself.
        return meter.resources() if meter is not None else None

    # -- readings, windows, failures ------------------------------------------------------------

    def record(
        self, worker: _Worker, reading: Reading, fields_off: dict[str, str], quiet: bool = False
    ) -> None:
        """A reading for the window (and running cells); fields newly off are told once.

        ``quiet``: fields off at the first reading go into session_start, not into a warning.
        """
        at = time.monotonic()
        with self.lock:
            if not worker.on:
                return  # switched off (hung) while this reading was being taken
            worker.readings.append(reading)
            worker.last = (at, reading)
            if worker.sampler.follows_cells:
                for meter in self.cells.values():
                    meter.add(worker.name_, at, reading)
            new = (
                {} if quiet else {k: v for k, v in fields_off.items() if k not in worker.fields_off}
            )
            worker.fields_off = fields_off
            self.off_in_window.update(new)
        for group, why in sorted(new.items()):
            self.warn(f"metrics: {group} switched off ({why})")

    def switch_off(self, worker: _Worker, reason: str) -> None:
        with self.lock:
            if not worker.on:
                return
            worker.on, worker.reason = False, reason
            self.off_in_window[worker.name_] = reason
        worker.wake.set()
        self.warn(f"metrics: {worker.name_} switched off: {reason}")

    def _tick(self) -> None:
        settings = self.settings
        step = min(1.0, settings.window_s / 4, settings.hang_after_s / 4)
        while not self.stopping.wait(step):
            now = time.monotonic()
            for worker in self.workers:
                since = worker.sampling_since
                if worker.on and since is not None and now - since > settings.hang_after_s:
                    self.switch_off(
                        worker, f"sample() did not return within {settings.hang_after_s:g}s"
                    )
            if now - self.window_started[0] >= settings.window_s:
                self.flush()

    def flush(self) -> None:
        """Emit the readings since the last flush as one record (nothing when there are none)."""
        with self.lock:
            started, started_at = self.window_started
            now = time.monotonic()
            self.window_started = (now, now_iso())
            samples = {w.name_: len(w.readings) for w in self.workers if w.readings}
            values: dict[str, Reduced] = {}
            for worker in self.workers:
                values.update(reduce_window(worker.readings))
                worker.readings = []
            off, self.off_in_window = self.off_in_window, {}
        if (samples or off) and self._emit is not None:
            self._emit(
                {
                    "window": {
                        "start": started_at,
                        "end": self.window_started[1],
                        "seconds": round(now - started, 3),
                    },
                    "samples": samples,
                    "values": values,
                    "off": off,
                }
            )
