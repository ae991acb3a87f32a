"""What every metric source is: a small class with an availability check, a probe and a sample.

A source answers four questions, and nothing else (the pool does scheduling, failure handling
and reduction):

- ``unavailable()``: why it cannot run here (``None`` when it can), e.g. a missing package;
- ``probe()``: static facts, asked once (board types, driver versions, totals);
- ``sample()``: one reading, a flat ``{field: number or None}`` dict;
- ``close()``: release what ``unavailable``/``probe`` opened.

Field names are ``<source>.<name>`` with the unit last (``_percent``, ``_bytes``, ``_w``, ``_c``,
``_mhz``, ``_per_s``). Fields ending in ``_total`` are cumulative counters (the Prometheus
convention): a window keeps only their last value.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from gclog.text import one_line

T = TypeVar("T")

Number = float | int
Reading = dict[str, Number | None]

# A rate over less than this is mostly noise: CPU times tick every 10 ms on Linux.
MIN_RATE_SPAN_S = 0.25


@dataclass
class Context:
    """What the sources observe; shared and updated by the pool (a kernel restart changes the pid)."""

    kernel_pid: int | None = None


class Sampler(abc.ABC):
    name: ClassVar[str]
    follows_cells: ClassVar[bool] = False  # read every busy interval while a cell runs
    read_at_cell_edges: ClassVar[bool] = False  # also read exactly when a cell starts and ends

    def __init__(self, context: Context) -> None:
        self.context = context
        # Fields switched off alone because their call failed, with why (the source stays on).
        self.fields_off: dict[str, str] = {}

    def unavailable(self) -> str | None:
        return None

    def probe(self) -> dict[str, Any]:
        return {}

    @abc.abstractmethod
    def sample(self) -> Reading:
        """One reading: field name → value (None: not available this time)."""

    def close(self) -> None:  # noqa: B027 - optional: most sources hold nothing to release
        """Release what probe() or sample() opened (an NVML handle, say)."""

    def attempt(self, group: str, call: Callable[..., T], *args: Any) -> T | None:
        """Run the call behind the fields of ``group``; if it fails, those fields go off alone.

        A call that failed once is not made again (a GPU without a power sensor fails the same
        way every time), and the reason stays in ``fields_off`` for the records.
        """
        if group in self.fields_off:
            return None
        try:
            return call(*args)
        except Exception as exc:
            self.fields_off[group] = describe(exc)
            return None


@dataclass
class Rates:
    """Per-second rates (or ratios) of cumulative counters between two readings.

    A reading closer than ``MIN_RATE_SPAN_S`` to the last one gives no rates (``None``) and keeps
    the older reading as the base, so an extra reading (a cell's start or end) never produces
    a rate over a few milliseconds.
    """

    min_span_s: float = MIN_RATE_SPAN_S
    _base: tuple[float, dict[str, float]] | None = field(default=None, repr=False)

    def per_second(self, counters: dict[str, float | None]) -> dict[str, float | None]:
        now = time.monotonic()
        known = {k: v for k, v in counters.items() if v is not None}
        if self._base is None:
            self._base = (now, known)
            return dict.fromkeys(counters)
        then, before = self._base
        span = now - then
        if span < self.min_span_s:
            return dict.fromkeys(counters)
        self._base = (now, known)
        return {
            k: max(0.0, (known[k] - before[k]) / span) if k in known and k in before else None
            for k in counters
        }

    def reset(self) -> None:
        self._base = None


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole`` in percent, or None when either is unknown or the whole is zero."""
    if part is None or not whole:
        return None
    return 100.0 * part / whole


describe = one_line  # an exception as one short line, in a source's off reason
