"""Every request is bounded end to end: a silent endpoint, a trickling one, a stop mid-call."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from firehose_helpers import FirehoseWorld
from helpers import Env, one_line_error
from test_shipping import fill, undelivered

from gclog.errors import ExitCode
from gclog.ship.shipper import Shipper


class BadEndpoint:
    """A real socket server that accepts and then never answers (``silent``), or answers one
    byte of an HTTP status line every ``every`` s (``trickle``): a per-read timeout never fires."""

    def __init__(self, mode: str, every: float = 2.0) -> None:
        self.mode, self.every = mode, every
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted.set()
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                    if self._stop.wait(self.every if self.mode == "trickle" else 3600):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.server.close()


@pytest.fixture(params=["silent", "trickle"])
def bad_endpoint(request: pytest.FixtureRequest) -> Iterator[BadEndpoint]:
    endpoint = BadEndpoint(request.param)
    yield endpoint
    endpoint.close()


def test_flush_keeps_to_its_timeout_against_an_endpoint_that_never_finishes(
    env: Env, firehose: FirehoseWorld, bad_endpoint: BadEndpoint
) -> None:
    fill(env.store, 5)
    # Before, a silent endpoint took 15.7 s (the read timeout) and a trickling one 151 s; the
    # subprocess limit below only stops a hang, the message says which bound fired.
    result = env.gclog(
        "flush", "--timeout", "2", *firehose.flags(bad_endpoint.url), timeout=60, **firehose.aws_env
    )
    assert result.returncode == ExitCode.UNDELIVERED, result.stderr
    assert bad_endpoint.accepted.is_set()
    assert "no answer from" in one_line_error(result.stderr)
    assert undelivered(env.store) == 5


def test_stop_returns_with_no_call_in_flight(tmp_path: Path, firehose: FirehoseWorld) -> None:
    """Before, stop() gave up waiting while its thread was inside PutRecordBatch: a reply that
    came after that was marked (or not, if the process had exited): the store and the report
    disagreed. Now the call is bounded by stop's deadline and the thread is done on return."""
    path = tmp_path / "store.db"
    fill(path, 3)
    firehose.proxy.delay_s = 3.0
    shipper = Shipper(path, firehose.sender(), interval=0.05)
    shipper.start()
    assert firehose.proxy.in_flight.wait(30)
    report = shipper.stop(timeout=0.5)
    assert shipper._thread is not None and not shipper._thread.is_alive()
    assert report.remaining == 3 == undelivered(path)
    time.sleep(3.5)  # the proxy's reply arrives now: nobody marks it behind the report's back
    assert undelivered(path) == 3
