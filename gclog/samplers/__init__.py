"""Metric sources, and the one list that names them.

Adding a source = one file with a :class:`~gclog.samplers.base.Sampler` subclass, named in
``SOURCES``. Nothing registers itself on import; optional libraries (``gcipuinfo``, ``pynvml``)
are imported only when their source checks whether it can run.
"""

from __future__ import annotations

from gclog.samplers.base import Sampler
from gclog.samplers.ipu import IpuSampler
from gclog.samplers.nvidia import NvidiaSampler
from gclog.samplers.process import ProcessSampler
from gclog.samplers.system import SystemSampler

SOURCES: tuple[type[Sampler], ...] = (SystemSampler, ProcessSampler, IpuSampler, NvidiaSampler)


def source_names() -> list[str]:
    return [source.name for source in SOURCES]


def parse_sources(text: str) -> str:
    """The ``metrics`` setting: ``all``, ``none`` (or ``off``), or a comma-separated list of sources."""
    value = text.strip().lower()
    if value in ("all", "on", "true", "1", "yes"):
        return "all"
    if value in ("none", "off", "false", "0", "no", ""):
        return "none"
    chosen = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in source_names()]
    if unknown:
        raise ValueError(
            f"unknown metric source {unknown[0]!r}; choose all, none or some of "
            + ", ".join(source_names())
        )
    return ",".join(name for name in source_names() if name in chosen)


def chosen(setting: str) -> list[str]:
    """The sources a parsed ``metrics`` setting turns on."""
    if setting == "all":
        return source_names()
    if setting == "none":
        return []
    return setting.split(",")
