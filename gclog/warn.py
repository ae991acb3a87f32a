"""One way for gclog's warnings to reach the person, whichever thread or stage says them.

A warning is one line, ``gclog: warning: …``. While a session shows a live view (a progress bar,
a panel), printing to stderr beside it would tear it: the session routes warnings through its
view for as long as it shows (:func:`routed`). Every warning is logged too, for ``--debug``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger("gclog")

_lock = threading.Lock()
_sinks: list[Callable[[str], None]] = []  # the innermost last


def warn(message: str) -> None:
    """Say ``message`` (without the ``gclog: warning:`` prefix) the one way warnings go."""
    log.debug("warning: %s", message)
    with _lock:
        sink = _sinks[-1] if _sinks else None
    if sink is not None:
        try:
            sink(message)
            return
        except Exception:  # a view that cannot show it: stderr still can
            pass
    print(f"gclog: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def routed(sink: Callable[[str], None]) -> Iterator[None]:
    """Send warnings to ``sink`` (a live view's note) until the block ends."""
    with _lock:
        _sinks.append(sink)
    try:
        yield
    finally:
        with _lock:
            _sinks.remove(sink)


def configure_debug() -> None:
    """``--debug``: gclog's own log, at debug level, on stderr (tracebacks included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("gclog: debug: %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
