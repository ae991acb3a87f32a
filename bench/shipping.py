"""Shipping 10,000 cell records to Firehose (moto's server, in its own process), two ways.

- the seed's way: one ``put_record`` per cell, synchronously, in the cell's path;
- gclog's way: each record is committed to the store, and a background shipper sends the
  backlog in packed PutRecordBatch calls.

Per cell it times what the cell's path pays (the seed: the HTTP round trip; gclog: the commit,
with the shipper running alongside), and for the whole it counts the API calls and records/s.
moto here is local: a real Firehose endpoint is tens of milliseconds away, which the seed pays per
cell and gclog's background thread absorbs.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import scratch, write_section

RECORDS = 10_000
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            return server, url
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("moto's server did not start")


def make_stream(url: str, name: str) -> Any:
    import boto3

    s3 = boto3.client("s3", endpoint_url=url)
    firehose = boto3.client("firehose", endpoint_url=url)
    s3.create_bucket(Bucket=f"bench-{name}")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::bench-{name}",
        },
    )
    return s3


def delivered_events(s3: Any, bucket: str) -> int:
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            count += s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().count(b"\n")
    return count


def cell_fields(i: int) -> dict[str, Any]:
    """A typical cell record's fields (~900 bytes as JSON, with the envelope)."""
    code = f"df = load_batch({i})\nmodel.fit(df, epochs=1)\nprint(model.evaluate(df))"
    return {
        "index": i % 40,
        "cell_id": f"cell-{i % 40:04d}",
        "msg_id": f"{i:032x}",
        "execution_count": i,
        "status": "ok",
        "partial": False,
        "times": {
            "queued_at": "2026-12-01T10:00:00.000000Z",
            "started_at": "2026-12-01T10:00:00.001000Z",
            "ended_at": "2026-12-01T10:00:01.250000Z",
        },
        "duration_s": 1.249,
        "queue_wait_s": 0.001,
        "code": code,
        "code_sha256": "ab" * 32,
        "code_lines": 3,
        "output": {
            "count": 1,
            "by_type": {"stream": 1},
            "bytes_by_mime": {"stdout": 48},
            "stdout": "loss 0.2431 accuracy 0.9132 (1024 samples)\n",
            "stderr": None,
            "result": None,
            "images": [],
        },
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "max": ordered[-1] * 1000,
    }


def seeds_way(url: str) -> dict[str, Any]:
    """One synchronous put_record per cell, as GCLogger's post_run_cell does."""
    import boto3

    s3 = make_stream(url, "seed")
    client = boto3.client("firehose", endpoint_url=url)
    latencies = []
    started = time.perf_counter()
    for i in range(RECORDS):
        payload = json.dumps({"event_id": str(i), **cell_fields(i)}, separators=(",", ":"))
        t0 = time.perf_counter()
        client.put_record(DeliveryStreamName="seed", Record={"Data": payload.encode()})
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    objects = sum(
        len(page.get("Contents", []))
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-seed")
    )
    assert objects == RECORDS, objects  # one S3 object per call (the seed adds no newline)
    return {"calls": RECORDS, "rate": RECORDS / elapsed, **percentiles(latencies)}


def gclogs_way(url: str, home: Path, name: str, pack_kib: int, live: bool) -> dict[str, Any]:
    """Records committed by a Session; the shipper in the background (live) or flushing after."""
    from gclog.identity import Identity
    from gclog.pipeline.session import Session
    from gclog.privacy.filter import PrivacyFilter
    from gclog.ship.firehose import FirehoseSender
    from gclog.ship.shipper import Shipper
    from gclog.store.store import Store

    s3 = make_stream(url, name)
    path = home / f"{name}.sqlite3"
    store = Store(path, max_bytes=256 * 2**20)
    session = Session(
        "run",
        store,
        Identity.load_or_create(home / "identity.json"),
        record_filter=PrivacyFilter("full"),
    )
    sender = FirehoseSender(name, region="us-east-1", endpoint_url=url)
    shipper = Shipper(path, sender, pack_bytes=pack_kib * 1024, interval=2.0)
    latencies = []
    sender.warm_up()  # as a session's shipper does while the kernel starts
    if live:
        shipper.start()
    started = time.perf_counter()
    for i in range(RECORDS):
        fields = cell_fields(i)
        t0 = time.perf_counter()
        session.cell(fields)
        latencies.append(time.perf_counter() - t0)
    if live:
        report = shipper.stop(timeout=120)
        elapsed = time.perf_counter() - started
    else:
        flush_started = time.perf_counter()
        report = shipper.flush(timeout=120)
        elapsed = time.perf_counter() - flush_started
    store.close()
    assert report.remaining == 0, report
    arrived = delivered_events(s3, f"bench-{name}")
    assert arrived == RECORDS, arrived
    return {"calls": report.calls, "rate": RECORDS / elapsed, **percentiles(latencies)}


def main() -> None:
    os.environ.update(AWS)
    server, url = start_moto()
    try:
        with scratch() as tmp:
            home = Path(tmp)
            rows = {
                "seed: `put_record` per cell, in the cell's path": seeds_way(url),
                "gclog: store + background shipper, packed 256 KiB": gclogs_way(
                    url, home, "live", 256, live=True
                ),
                "gclog: 10,000-record backlog, `gclog flush`, packed 256 KiB": gclogs_way(
                    url, home, "packed", 256, live=False
                ),
                "gclog: 10,000-record backlog, packing off (`pack_kib = 0`)": gclogs_way(
                    url, home, "unpacked", 0, live=False
                ),
            }
    finally:
        server.terminate()
        server.wait()
    lines = [
        "| way | API calls | records/s | added to each cell: p50 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['calls']:,} | {row['rate']:,.0f} | {row['p50']:.3f} ms"
            f" | {row['p99']:.3f} ms | {row['max']:.1f} ms |"
        )
    body = "\n".join(lines) + (
        f"\n\n{RECORDS:,} cell records of ~900 bytes each, to moto's Firehose server running in a"
        " process of its own on this machine (S3 destination; every record read back from S3)."
        ' "Added to each cell" is what the code recording a cell waits for: the seed\'s'
        " `put_record` round trip, or gclog's commit to its SQLite store while the shipper runs"
        " alongside (for the backlog rows, with no shipper running). The records/s of the live"
        " row counts from the first record to the last one delivered, so it is bound by how"
        " fast records come; the backlog rows time the upload alone. A real Firehose endpoint"
        " is tens of milliseconds away: the seed pays that in every cell, gclog in a background"
        " thread."
    )
    write_section("shipping", "Shipping to Firehose", "python -m bench shipping", body)
    print(body)


if __name__ == "__main__":
    main()
