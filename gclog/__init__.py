"""gclog: record how notebooks are used and ship the records to AWS Firehose.

``%load_ext gclog`` in IPython observes the kernel it is loaded in (see :mod:`gclog.entry.extension`).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    from gclog.entry.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from gclog.entry.extension import unload

    unload(ipython)
