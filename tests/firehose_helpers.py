"""A real Firehose endpoint for the tests: moto's server, and a fault proxy in front of it.

moto enforces no limits and never fails a record (DESIGN.md §9), so the proxy does what the real
service does under stress: it answers 503 or a 400 ``ServiceUnavailableException``, drops the
connection (before or after moto took the records), answers slowly, and returns genuine
partial-failure bodies — the records it reports failed are really not delivered. It also checks
every PutRecordBatch against Firehose's limits and refuses calls that break them, as Firehose does.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_RECORD = 1000 * 1024
MAX_CALL_RECORDS = 500
MAX_CALL_BYTES = 4 * 1024 * 1024
PUT_BATCH = "Firehose_20150804.PutRecordBatch"

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class MotoFirehose:
    """One bucket and one DirectPut stream (ExtendedS3 destination) on a moto server."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        tag = uuid.uuid4().hex[:10]
        self.bucket = f"gclog-test-{tag}"
        self.stream = f"gclog-stream-{tag}"
        creds = {
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        }
        self.s3 = boto3.client("s3", endpoint_url=endpoint, **creds)
        self.firehose = boto3.client("firehose", endpoint_url=endpoint, **creds)
        self.s3.create_bucket(Bucket=self.bucket)
        self.firehose.create_delivery_stream(
            DeliveryStreamName=self.stream,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{self.bucket}",
            },
        )

    def objects(self) -> list[bytes]:
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                found.append(self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read())
        return found

    def delivered(self) -> list[dict[str, Any]]:
        """Every event that reached S3, one per NDJSON line (duplicates included)."""
        events = []
        for data in self.objects():
            assert data.endswith(b"\n"), "every shipped event ends with a newline"
            events += [json.loads(line) for line in data.decode("utf-8").splitlines()]
        return events


def set_moto_auth(endpoint: str, enabled: bool) -> None:
    """Switch moto's IAM checks on (every later request must carry known keys) or off."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0" if enabled else b"inf",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).read()


@dataclass
class CallSeen:
    records: list[int]  # size of each record's data
    fault: str | None
    started: float = field(default_factory=time.monotonic)


class FaultProxy:
    """An HTTP proxy to ``upstream``; ``faults`` are applied to successive PutRecordBatch calls.

    A fault is one of: ``503``, ``400`` (ServiceUnavailableException in a 400), ``500``,
    ``drop`` (close the connection, nothing forwarded), ``lost-reply`` (forward, then close
    without answering: the records arrive but the client cannot know), ``partial`` (fail every
    other record, forward the rest). ``delay_s`` slows every call down (until :meth:`recover`).
    ``poison``: any call holding a record with those bytes is refused whole, a non-retryable 400
    InvalidArgumentException, as Firehose refuses a call with one bad record.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.faults: deque[str] = deque()
        self.calls: list[CallSeen] = []
        self.violations: list[str] = []
        self.failed_records = 0  # records reported failed to the client (partial failures)
        self.delay_s = 0.0  # added to every call
        self.poison: bytes | None = None  # a call holding a record with these bytes: a 400
        self.in_flight = threading.Event()  # set while a PutRecordBatch is being handled
        self._recovered = threading.Event()  # cuts the delays short
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"proxy": self, "disable_nagle_algorithm": True})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, *faults: str) -> None:
        self.faults.extend(faults)

    def recover(self) -> None:
        """Healthy from now on; calls being delayed go on at once."""
        self.faults.clear()
        self.delay_s = 0.0
        self._recovered.set()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_fault(self) -> str | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def _check_limits(self, sizes: list[int]) -> str | None:
        if len(sizes) > MAX_CALL_RECORDS:
            return f"{len(sizes)} records in one call"
        if sum(sizes) > MAX_CALL_BYTES:
            return f"{sum(sizes)} bytes in one call"
        too_big = [s for s in sizes if s > MAX_RECORD]
        if too_big:
            return f"a record of {too_big[0]} bytes"
        return None


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.headers.get("X-Amz-Target") != PUT_BATCH:
            self._reply(*self._forward(body))
            return
        proxy = self.proxy
        proxy.in_flight.set()
        try:
            request = json.loads(body)
            datas = [base64.b64decode(r["Data"]) for r in request["Records"]]
            fault = proxy._next_fault()
            with proxy._lock:
                proxy.calls.append(CallSeen([len(d) for d in datas], fault))
            if proxy.delay_s:
                proxy._recovered.wait(proxy.delay_s)
            violation = proxy._check_limits([len(d) for d in datas])
            if violation:
                proxy.violations.append(violation)
                self._error(400, "InvalidArgumentException", f"limit exceeded: {violation}")
            elif proxy.poison is not None and any(proxy.poison in d for d in datas):
                self._error(400, "InvalidArgumentException", "Record is not valid.")
            elif fault in ("503", "400"):
                self._error(int(fault), "ServiceUnavailableException", "Slow down.")
            elif fault == "500":
                self._error(500, "InternalFailure", "Internal failure.")
            elif fault == "drop":
                self._drop()
            elif fault == "lost-reply":
                self._forward(body)
                self._drop()
            elif fault == "partial":
                self._partial(request, datas)
            else:
                self._reply(*self._forward(body))
        finally:
            proxy.in_flight.clear()

    def _partial(self, request: dict[str, Any], datas: list[bytes]) -> None:
        failing = set(range(1, len(datas), 2)) if len(datas) > 1 else {0}
        kept = [r for i, r in enumerate(request["Records"]) if i not in failing]
        ids: list[str] = []
        if kept:
            status, _, answer = self._forward(json.dumps({**request, "Records": kept}).encode())
            assert status == 200, answer
            ids = [r["RecordId"] for r in json.loads(answer)["RequestResponses"]]
        responses = []
        for index in range(len(datas)):
            if index in failing:
                responses.append(
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                )
            else:
                responses.append({"RecordId": ids.pop(0)})
        self.proxy.failed_records += len(failing)
        reply = {"FailedPutCount": len(failing), "Encrypted": False, "RequestResponses": responses}
        self._reply(200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(reply).encode())

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.proxy.upstream, timeout=60)
        # The Host header stays as the client signed it (moto checks signatures when auth is on).
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        kept = {
            k: v
            for k, v in response.getheaders()
            if k.lower() in ("content-type", "x-amzn-requestid", "x-amzn-errortype")
        }
        connection.close()
        return response.status, kept, answer

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"__type": code, "message": message}).encode()
        self._reply(
            status,
            {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code},
            body,
        )

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


@dataclass
class FirehoseWorld:
    """What a shipping test needs: the stream on moto, the proxy, and the AWS variables."""

    moto: MotoFirehose
    proxy: FaultProxy
    aws_env: dict[str, str]

    @property
    def stream(self) -> str:
        return self.moto.stream

    def flags(self, endpoint: str | None = None) -> list[str]:
        """The sink options of `gclog run` / `gclog flush` for this stream, through the proxy."""
        return [
            "--sink",
            "firehose",
            "--stream",
            self.stream,
            "--region",
            "us-east-1",
            "--endpoint-url",
            endpoint or self.proxy.url,
        ]

    def sender(self, endpoint: str | None = None, stream: str | None = None) -> Any:
        from gclog.ship.firehose import FirehoseSender

        return FirehoseSender(
            stream or self.stream, region="us-east-1", endpoint_url=endpoint or self.proxy.url
        )
