"""SIGINT, SIGTERM and SIGHUP as a flag that a loop checks, so no write is ever cut in half."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalFlag:
    def __init__(self) -> None:
        self.received: int | None = None
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signum
        self.count += 1

    def exit_code(self, default: int) -> int:
        """130 for Ctrl-C, 128 + the signal's number for the others."""
        if self.received in (None, signal.SIGINT):
            return default
        return 128 + int(self.received or 0)

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = {s: signal.signal(s, self) for s in STOP_SIGNALS}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
