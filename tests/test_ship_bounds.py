"""Every request is bounded end to end: a silent endpoint, a trickling one, a stop mid-call."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from firehose_helpers import FirehoseWorld
from helpers import Env, one_line_error, write_notebook
from test_shipping import arrived, fill, record, undelivered

from gclog.errors import ExitCode
from gclog.ship.shipper import Shipper
from gclog.store.store import Store


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


# -- one bad record blocks nothing ------------------------------------------------------------------


def test_a_refused_batch_is_split_and_the_bad_record_set_aside(
    env: Env, firehose: FirehoseWorld
) -> None:
    """Before: a non-retryable 400 on the oldest batch, and nothing behind it ever shipped."""
    ids = fill(env.store, 60)
    with Store(env.store) as store:
        store.append(record(61, code="POISON-record"))  # in the middle of the queue's packs
    ids |= fill(env.store, 40, session="s2")
    firehose.proxy.poison = b"POISON"
    result = env.gclog("flush", "--timeout", "60", *firehose.flags(), **firehose.aws_env)
    assert result.returncode == 0, result.stderr
    assert "1 records Firehose refused are set aside" in result.stderr
    assert set(arrived(firehose)) == ids  # everything else went
    with Store(env.store) as store:
        assert store.counts()["undelivered"] == 0
        aside = store.set_aside_records()
    assert [a["record"]["event_id"] for a in aside] == ["s1-61"]
    assert "InvalidArgumentException" in aside[0]["reason"]
    status = env.gclog("status")
    assert "Set aside: 1 records Firehose refused" in status.stdout + status.stderr


def test_a_stream_that_refuses_everything_sets_nothing_aside(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    fill(path, 10)
    firehose.proxy.poison = b"gclog"  # in every record
    report = Shipper(path, firehose.sender(), pack_bytes=0).flush(timeout=20)
    assert report.remaining == 10 and report.set_aside == 0
    assert report.error is not None and "InvalidArgumentException" in report.error.message


# -- gclog flush among others, and under a signal ---------------------------------------------------


def test_sigterm_to_flush_is_143_and_gives_the_claims_back(
    env: Env, firehose: FirehoseWorld
) -> None:
    silent = BadEndpoint("silent")
    try:
        fill(env.store, 5)
        flush = env.popen(
            "flush", "--timeout", "60", *firehose.flags(silent.url), env=firehose.aws_env
        )
        assert silent.accepted.wait(30), "the flush sent nothing"
        flush.send_signal(signal.SIGTERM)
        _, stderr = flush.communicate(timeout=30)
        assert flush.returncode == 143, stderr  # before: killed by the raw signal (-15)
        assert "Traceback" not in stderr
        with Store(env.store) as store:
            assert store.counts()["undelivered"] == 5
            assert store.claimed_elsewhere("nobody") == 0  # given back: the next flush sends them
    finally:
        silent.close()


def test_a_flush_while_another_process_ships_those_records_exits_0(
    env: Env, firehose: FirehoseWorld
) -> None:
    fill(env.store, 5)
    firehose.proxy.delay_s = 8.0
    first = env.popen("flush", "--timeout", "60", *firehose.flags(), env=firehose.aws_env)
    try:
        assert firehose.proxy.in_flight.wait(30)
        second = env.gclog("flush", "--timeout", "2", *firehose.flags(), **firehose.aws_env)
        # Before: exit 5, "5 records not shipped".
        assert second.returncode == 0, second.stderr
        assert "5 more are being shipped by another gclog process" in second.stderr
    finally:
        firehose.proxy.recover()
        _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    assert undelivered(env.store) == 0


def test_a_run_ends_within_flush_timeout_against_a_silent_endpoint(
    env: Env, firehose: FirehoseWorld
) -> None:
    silent = BadEndpoint("silent")
    try:
        nb = write_notebook(env.root / "a.ipynb", "print(1)")
        result = env.gclog(
            "run", str(nb), *firehose.flags(silent.url), timeout=90,
            GCLOG_FLUSH_TIMEOUT="1", **firehose.aws_env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert silent.accepted.is_set()
        assert "records not shipped: no answer from" in result.stderr
        assert undelivered(env.store) >= 3  # kept for gclog flush
    finally:
        silent.close()


def test_flush_takes_back_records_a_session_left_in_a_file(
    env: Env, firehose: FirehoseWorld
) -> None:
    from gclog.store import spill

    env.home.mkdir(parents=True, exist_ok=True)
    spill.save(env.home, "s9", [record(seq, session="s9") for seq in (1, 2, 3)])
    result = env.gclog("flush", "--timeout", "30", *firehose.flags(), **firehose.aws_env)
    assert result.returncode == 0, result.stderr
    assert {"s9-1", "s9-2", "s9-3"} <= set(arrived(firehose))
    assert spill.pending(env.home) == []
