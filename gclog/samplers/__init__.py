"""Metric sources: one file per source, and the one list that names them.

Adding a source = one file with a :class:`~gclog.samplers.base.Sampler` subclass, named in
``SAMPLERS`` (and its name in ``gclog.setting_types.METRIC_SOURCES``, where the ``metrics``
setting is checked; a test keeps the two in step). Nothing registers itself on import; optional
libraries (``gcipuinfo``, ``pynvml``) are imported only when their source checks whether it can run.

    base.py     what a source is: unavailable() / probe() / sample() / close()
    system.py   the machine: CPU, memory, disk, network
    process.py  the kernel's process tree
    ipu.py      Graphcore IPUs (gcipuinfo)
    nvidia.py   NVIDIA GPUs (NVML)
    pool.py     every source on its own thread and schedule; windows reduced into records
    cells.py    what one cell used, from the readings taken while it ran
"""

from __future__ import annotations

from gclog.samplers.base import Sampler
from gclog.samplers.ipu import IpuSampler
from gclog.samplers.nvidia import NvidiaSampler
from gclog.samplers.process import ProcessSampler
from gclog.samplers.system import SystemSampler

SAMPLERS: tuple[type[Sampler], ...] = (SystemSampler, ProcessSampler, IpuSampler, NvidiaSampler)


def sampler_names() -> list[str]:
    return [sampler.name for sampler in SAMPLERS]
