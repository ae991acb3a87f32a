"""The shipper against a real HTTP Firehose (moto) behind a fault proxy: no record lost, few sent twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from firehose_helpers import MAX_RECORD, FirehoseWorld, set_moto_auth

from gclog.ship import batching
from gclog.ship.firehose import Backoff, FirehoseSender
from gclog.ship.shipper import Shipper, owner_id
from gclog.store.store import Store

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-gclog-test"


def record(seq: int, event_type: str = "cell", session: str = "s1", **extra: Any) -> dict[str, Any]:
    return {
        "schema": "gclog/1",
        "event_id": f"{session}-{seq}",
        "event_type": event_type,
        "event_time": f"2026-12-01T00:00:{seq % 60:02d}.000000Z",
        "session_id": session,
        "seq": seq,
        **extra,
    }


def fill(path: Path, count: int, size: int = 400, session: str = "s1") -> set[str]:
    """``count`` cell records of about ``size`` bytes; returns their event ids."""
    with Store(path) as store:
        for seq in range(1, count + 1):
            store.append(record(seq, session=session, code="x" * size))
    return {f"{session}-{seq}" for seq in range(1, count + 1)}


def arrived(firehose: FirehoseWorld) -> Counter[str]:
    return Counter(event["event_id"] for event in firehose.moto.delivered())


def undelivered(path: Path) -> int:
    with Store(path) as store:
        return store.counts()["undelivered"]


# -- delivery: everything arrives, in few calls, within the limits ---------------------------------


def test_a_backlog_arrives_whole_in_few_calls(tmp_path: Path, firehose: FirehoseWorld) -> None:
    path = tmp_path / "store.db"
    ids = fill(path, 2000, size=900)
    report = Shipper(path, firehose.sender()).flush(timeout=60)
    assert report.remaining == 0 and report.delivered == 2000 and report.error is None
    assert arrived(firehose) == Counter(ids)  # every record, each exactly once
    # ~2 MB packed into 256 KiB records: one call (4 MiB) takes it all
    assert report.calls == len(firehose.proxy.calls) == 1
    assert firehose.proxy.violations == []
    with Store(path) as store:
        status = store.shipping_status()
    assert status["undelivered"] == 0 and status["last_upload"]["ok"] is True
    assert firehose.stream in (status["last_upload"]["destination"] or "")


@pytest.mark.parametrize("pack_kib", [0, 256])
def test_a_600_record_burst_stays_within_the_call_limits(
    tmp_path: Path, firehose: FirehoseWorld, pack_kib: int
) -> None:
    path = tmp_path / "store.db"
    ids = fill(path, 600, size=7000)  # ~4.2 MB: over one call's 4 MiB and its 500 records
    report = Shipper(path, firehose.sender(), pack_bytes=pack_kib * 1024).flush(timeout=60)
    assert report.remaining == 0
    assert arrived(firehose) == Counter(ids)
    assert firehose.proxy.violations == []
    calls = firehose.proxy.calls
    assert len(calls) >= 2  # it had to split
    assert all(len(c.records) <= 500 and sum(c.records) <= 4 * 2**20 for c in calls)
    if pack_kib == 0:
        assert sum(len(c.records) for c in calls) == 600  # one event per Firehose record
    else:
        assert all(size <= 256 * 1024 for c in calls for size in c.records)


def test_the_proxy_refuses_calls_over_firehoses_limits(firehose: FirehoseWorld) -> None:
    """The guard the other tests rely on: a call over the limits is caught, as Firehose would."""
    sender = firehose.sender()
    too_many = sender.put([b"x\n"] * 501)
    too_big = sender.put([b"y" * (MAX_RECORD + 1)])
    assert len(firehose.proxy.violations) == 2
    for outcome in (too_many, too_big):
        assert outcome.accepted == [] and outcome.error is not None
        assert outcome.error.kind == "rejected" and not outcome.error.retryable
    assert firehose.moto.objects() == []


def test_oversized_records_are_cut_to_fit_never_dropped(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    big = {
        "huge-code": record(1, code="a" * 3_000_000, output={"stdout": "ok"}),
        "two-big-fields": record(
            2, code="é" * 700_000, output={"stdout": "o" * 900_000, "stderr": "short"}
        ),
        "escapes": record(3, code='\n\t"' * 500_000),  # each character is two bytes in JSON
        "many-small-values": record(4, values=[f"v{i:06d}" for i in range(200_000)]),
        "just-fits": record(5, code=""),
    }
    overhead = len(json.dumps(big["just-fits"], separators=(",", ":")).encode()) + 1
    big["just-fits"]["code"] = "z" * (MAX_RECORD - overhead)
    with Store(path) as store:
        for item in big.values():
            store.append(item)
        store.append(record(6))
    report = Shipper(path, firehose.sender()).flush(timeout=60)
    assert report.remaining == 0 and firehose.proxy.violations == []
    assert all(size <= MAX_RECORD for c in firehose.proxy.calls for size in c.records)
    events = {e["event_id"]: e for e in firehose.moto.delivered()}
    assert sorted(events) == [f"s1-{i}" for i in range(1, 7)]
    huge = events["s1-1"]
    assert huge["truncated_fields"] == ["code"]
    assert huge["code"].startswith("aaaa") and "cut to fit Firehose" in huge["code"]
    assert huge["output"] == {"stdout": "ok"}  # the small fields are untouched
    assert set(events["s1-2"]["truncated_fields"]) <= {"code", "output.stdout"}
    assert events["s1-2"]["output"]["stderr"] == "short"
    assert events["s1-3"]["truncated_fields"] == ["code"]
    assert "cut to fit" in events["s1-4"]["values"]
    assert events["s1-5"]["code"] == big["just-fits"]["code"]  # exactly at the limit: whole
    assert "truncated_fields" not in events["s1-5"] and "truncated_fields" not in events["s1-6"]
    with Store(path) as store:  # the store keeps the whole record
        assert next(store.records())["code"] == "a" * 3_000_000


def test_shrink_keeps_every_record_within_the_limit_for_any_shape() -> None:
    rng = random.Random(4)
    for _ in range(30):
        fields = {
            f"f{i}": rng.choice(["x", "é", "\n", "😀", "\\"]) * rng.randint(0, 400_000)
            for i in range(rng.randint(1, 6))
        }
        body = json.dumps(record(1, **fields), ensure_ascii=False)
        line = batching.line_of(body, limit=300_000)
        assert len(line) <= 300_000 and line.endswith(b"\n")
        shipped = json.loads(line)
        assert shipped["event_id"] == "s1-1"


# -- outages and partial failures -----------------------------------------------------------------


def test_an_endpoint_down_for_the_first_requests_loses_nothing(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    ids = fill(path, 700)
    firehose.proxy.fail_next("drop", "503", "400", "500", "drop", "503")
    report = Shipper(path, firehose.sender(), pack_bytes=0).flush(timeout=120)
    assert report.remaining == 0 and report.error is None
    faults = [c.fault for c in firehose.proxy.calls]
    assert faults[:6] == ["drop", "503", "400", "500", "drop", "503"] and None in faults
    assert arrived(firehose) == Counter(ids)  # all there, none twice: failed calls landed nothing


def test_partial_failures_resend_only_the_failed_records(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    ids = fill(path, 600)
    firehose.proxy.fail_next("partial", "partial", "partial")
    report = Shipper(path, firehose.sender(), pack_bytes=0).flush(timeout=120)
    assert report.remaining == 0
    sent = sum(len(c.records) for c in firehose.proxy.calls)
    assert firehose.proxy.failed_records > 0
    # Every record went once, plus once more for each time Firehose reported it failed: no more.
    assert sent == 600 + firehose.proxy.failed_records
    counts = arrived(firehose)
    assert counts == Counter(ids)  # and no duplicates downstream at all
    assert sum(counts.values()) - len(counts) == 0


def test_a_lost_reply_makes_duplicates_never_losses(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    ids = fill(path, 300)
    firehose.proxy.fail_next("lost-reply")
    report = Shipper(path, firehose.sender(), pack_bytes=0).flush(timeout=60)
    assert report.remaining == 0
    counts = arrived(firehose)
    assert set(counts) == ids
    duplicates = sum(counts.values()) - len(counts)
    # moto took the first call's records, the answer never came: those, and only those, twice
    assert duplicates == len(firehose.proxy.calls[0].records)


# -- failures that waiting cannot fix: clear reason, records kept ---------------------------------


def test_a_wrong_stream_name_keeps_the_records(tmp_path: Path, firehose: FirehoseWorld) -> None:
    path = tmp_path / "store.db"
    fill(path, 20)
    report = Shipper(path, firehose.sender(stream="no-such-stream")).flush(timeout=60)
    assert report.remaining == 20 and report.delivered == 0
    assert report.error is not None and report.error.kind == "stream"
    assert "'no-such-stream'" in report.error.message and "does not exist" in report.error.message
    assert len(firehose.proxy.calls) == 1  # no pointless retries within a flush
    with Store(path) as store:
        status = store.shipping_status()
    assert status["last_upload"]["ok"] is False
    assert "does not exist" in (status["last_upload"]["error"] or "")


def test_an_unreachable_endpoint_keeps_the_records(tmp_path: Path, firehose: FirehoseWorld) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    path = tmp_path / "store.db"
    fill(path, 10)
    started = time.monotonic()
    report = Shipper(path, firehose.sender(endpoint=dead)).flush(timeout=1.0)
    assert time.monotonic() - started < 30  # bounded (a no-hang guard, not a speed test)
    assert report.remaining == 10
    assert report.error is not None and report.error.kind == "network"
    assert dead in report.error.message


def test_rejected_credentials_keep_the_records_and_never_show_the_secret(
    tmp_path: Path, firehose: FirehoseWorld, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.db"
    fill(path, 5)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAGCLOGUNKNOWN0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    set_moto_auth(moto_endpoint, enabled=True)
    try:
        report = Shipper(path, firehose.sender()).flush(timeout=30)
    finally:
        set_moto_auth(moto_endpoint, enabled=False)
    assert report.remaining == 5
    assert report.error is not None and report.error.kind == "credentials"
    assert "rejected the credentials" in report.error.message
    assert SECRET not in report.summary()
    assert SECRET.encode() not in path.read_bytes()


def test_no_credentials_at_all_is_a_clear_reason(
    tmp_path: Path, firehose: FirehoseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    path = tmp_path / "store.db"
    fill(path, 3)
    report = Shipper(path, firehose.sender()).flush(timeout=30)
    assert report.remaining == 3 and firehose.proxy.calls == []
    assert report.error is not None and report.error.kind == "credentials"
    assert "no AWS credentials found" in report.error.message


# -- the background shipper of a session ----------------------------------------------------------


def test_the_background_shipper_never_holds_up_the_session(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    """A hanging endpoint: appends go on, stop() returns at its deadline, the records stay."""
    path = tmp_path / "store.db"
    firehose.proxy.delay_s = 30  # every call hangs far longer than the flush may wait
    shipper = Shipper(path, firehose.sender(), interval=0.05)
    shipper.start()
    with Store(path) as store:
        for seq in range(1, 201):
            store.append(record(seq))
            if seq == 100:
                assert firehose.proxy.in_flight.wait(30), "the shipper sent nothing"
    started = time.monotonic()
    report = shipper.stop(timeout=0.5)
    assert time.monotonic() - started < 10  # bounded (no-hang guard)
    assert report.remaining == 200
    firehose.proxy.recover()  # the call in flight goes through; its thread marks it and ends
    assert shipper.wait_finished(60)
    report = Shipper(path, firehose.sender()).flush(timeout=60)
    assert report.remaining == 0
    assert set(arrived(firehose)) == {f"s1-{i}" for i in range(1, 201)}


def test_the_background_shipper_ships_while_records_come(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    shipper = Shipper(path, firehose.sender(), interval=0.05)
    shipper.start()
    with Store(path) as store:
        for seq in range(1, 301):
            store.append(record(seq))
            if seq % 50 == 0:
                time.sleep(0.1)
    report = shipper.stop(timeout=30)
    assert report.remaining == 0 and report.delivered == 300
    assert arrived(firehose) == Counter(f"s1-{i}" for i in range(1, 301))
    assert len(firehose.proxy.calls) > 1  # it shipped during the session, not only at its end


def test_a_flush_keeps_to_its_timeout_while_records_keep_coming(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    fill(path, 10)
    firehose.proxy.delay_s = 0.05
    stop = threading.Event()

    def append_forever() -> None:  # another session, recording all along
        with Store(path) as store:
            seq = 1000
            while not stop.is_set():
                seq += 1
                store.append(record(seq))
                time.sleep(0.005)

    writer = threading.Thread(target=append_forever)
    writer.start()
    try:
        started = time.monotonic()
        report = Shipper(path, firehose.sender(), interval=0.05).flush(timeout=1.0)
        assert time.monotonic() - started < 30  # it stopped at its deadline (no-hang guard)
    finally:
        stop.set()
        writer.join()
    assert report.delivered >= 10


# -- several shippers on one store ----------------------------------------------------------------


def test_shippers_sharing_a_store_never_send_a_record_twice(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    ids = fill(path, 3000, size=2000)  # ~6 MB: several calls, so the shippers interleave
    firehose.proxy.delay_s = 0.2
    reports = []
    senders = [firehose.sender() for _ in range(3)]
    for sender in senders:
        sender.warm_up()  # the client made before the race: all three start on the same mark
    together = threading.Barrier(len(senders))

    def flush(sender: Any) -> None:
        shipper = Shipper(path, sender, pack_bytes=0)
        together.wait()
        reports.append(shipper.flush(timeout=120))

    workers = [threading.Thread(target=flush, args=(sender,)) for sender in senders]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert undelivered(path) == 0
    assert sum(r.delivered for r in reports) == 3000
    assert sum(1 for r in reports if r.delivered) >= 2, reports  # they did share the work
    assert arrived(firehose) == Counter(ids)  # and no record went twice


CLAIMER = """
import sys, time
from pathlib import Path
from gclog.ship.shipper import owner_id
from gclog.store.store import Store
with Store(Path(sys.argv[1])) as store:
    rows = store.claim(owner_id(), 100, 10**9, lease_s=3600)
print(len(rows), flush=True)
time.sleep(600)
"""


def test_claims_of_a_killed_shipper_come_back_at_once(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    path = tmp_path / "store.db"
    ids = fill(path, 150)
    claimer = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert claimer.stdout is not None
    assert claimer.stdout.readline().strip() == "100"
    # While the claimer lives, its 100 records are its own: only the other 50 go.
    report = Shipper(path, firehose.sender()).flush(timeout=30)
    assert report.delivered == 50 and report.remaining == 100
    os.kill(claimer.pid, signal.SIGKILL)
    claimer.wait()
    # Its lease has an hour to run, but its process is gone: the claims are taken back now.
    report = Shipper(path, firehose.sender()).flush(timeout=30)
    assert report.delivered == 100 and report.remaining == 0
    assert arrived(firehose) == Counter(ids)


def test_a_claim_from_another_host_waits_for_its_lease(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    fill(path, 10)
    with Store(path) as store:
        assert len(store.claim("elsewhere|1|1.0|x", 10, 10**9, lease_s=0.3)) == 10
        mine = owner_id()
        assert store.claim(mine, 10, 10**9, lease_s=60) == []
        time.sleep(0.4)
        assert len(store.claim(mine, 10, 10**9, lease_s=60)) == 10


# -- retry timing ---------------------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    backoff = Backoff(base=0.1, cap=10.0, rng=random.Random(1))
    waits = [backoff.next() for _ in range(40)]
    for attempt, wait in enumerate(waits):
        assert 0 <= wait <= min(10.0, 0.1 * 2**attempt)
    assert max(waits[:3]) <= 0.4 and max(waits[20:]) > 2  # it grows, up to the cap
    backoff.reset()
    assert backoff.next() <= 0.1


def test_a_sender_classifies_what_it_cannot_fix() -> None:
    import botocore.exceptions as bce

    sender = FirehoseSender("s", region="eu-west-1")

    def client_error(status: int, code: str) -> bce.ClientError:
        return bce.ClientError(
            {
                "Error": {"Code": code, "Message": "m"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "PutRecordBatch",
        )

    cases = {
        client_error(400, "ServiceUnavailableException"): ("unavailable", True),
        client_error(503, "ServiceUnavailableException"): ("unavailable", True),
        client_error(502, "BadGateway"): ("unavailable", True),
        client_error(400, "ThrottlingException"): ("unavailable", True),
        client_error(400, "ResourceNotFoundException"): ("stream", False),
        client_error(400, "UnrecognizedClientException"): ("credentials", False),
        client_error(403, "403"): ("credentials", False),
        client_error(400, "InvalidArgumentException"): ("rejected", False),
        bce.EndpointConnectionError(endpoint_url="http://x"): ("network", True),
        bce.ReadTimeoutError(endpoint_url="http://x"): ("network", True),
        bce.NoCredentialsError(): ("credentials", False),
        ValueError("anything else"): ("network", True),
    }
    for exc, (kind, retryable) in cases.items():
        error = sender.classify(exc)
        assert (error.kind, error.retryable) == (kind, retryable), exc
