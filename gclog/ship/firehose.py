"""One PutRecordBatch call, and what its outcome means: accepted, retry (when), or give up (why).

botocore's own retries are off (``total_max_attempts: 1``): its standard mode never retries a 400
``ServiceUnavailableException`` nor per-record failures, and its waits would stretch the bounded
flush at session end. The shipper retries instead, with :class:`Backoff`, and only the records
Firehose did not accept.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gclog.ship import credentials
from gclog.ship.credentials import CredentialError

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
# One call, end to end (credentials, connect, send, every read): botocore's read timeout is per
# socket read, so an endpoint that trickles a byte every few seconds would hold a call forever.
CALL_BOUND_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S

# Whole-call errors worth retrying: the service is busy, throttling or failing for now.
RETRYABLE_CODES = {
    "ServiceUnavailableException",
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "InternalFailure",
    "InternalFailureException",
    "InternalServerError",
    "RequestTimeout",
    "RequestTimeoutException",
}
CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "ExpiredToken",
    "AccessDeniedException",
    "AccessDenied",
    "InvalidAccessKeyId",
    "AuthFailure",
}


@dataclass(frozen=True)
class ShipError:
    """Why a call failed, in one line that is safe to show; ``retryable`` if waiting may help."""

    kind: str  # unavailable | network | credentials | stream | region | rejected
    message: str
    retryable: bool


@dataclass
class CallOutcome:
    """Indices (into the call's records) Firehose accepted, and those to send again."""

    accepted: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    error: ShipError | None = None


class Backoff:
    """Exponential backoff with full jitter: the n-th wait is uniform in [0, min(cap, base·2ⁿ)].

    Full jitter spreads the retries of many clients after an outage (AWS Architecture Blog,
    "Exponential Backoff And Jitter"); the cap keeps a long outage to one try every ``cap`` s.
    """

    def __init__(self, base: float = 0.1, cap: float = 10.0, rng: random.Random | None = None):
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 30))
        self.failures += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.failures = 0


class FirehoseSender:
    """PutRecordBatch to one stream.

    The credentials are looked up and the client made on first use, in the shipper's thread (a
    missing credentials file or an instance-role lookup costs nothing to the session), and again
    after a failure to make them, so a fixed file is picked up by a long session.
    """

    def __init__(
        self,
        stream: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        credentials_file: str | None = None,
        profile: str | None = None,
    ) -> None:
        self.stream = stream
        self.region = region
        self.endpoint_url = endpoint_url
        self.credentials_file = credentials_file
        self.profile = profile
        self.credentials_source = "the configured credentials"
        self.calls = 0  # PutRecordBatch calls made (for the benchmark and the tests)
        self._client: Any = None

    @property
    def destination(self) -> str:
        where = self.endpoint_url or (f"region {self.region}" if self.region else "")
        return f"Firehose stream {self.stream!r}" + (f" at {where}" if where else "")

    def _make_client(self) -> Any:
        from botocore.config import Config

        found = credentials.resolve(self.credentials_file, self.profile)
        self.credentials_source = found.source
        session = found.session(self.region)
        if session.get_credentials() is None:
            raise CredentialError(
                "no AWS credentials found (give --credentials-file or --profile, set AWS_* "
                f"variables, or point {credentials.SEED_DIR_VARIABLE} at the directory holding "
                f"{credentials.SEED_FILE_NAME})"
            )
        if not (self.region or session.region_name):
            raise _NoRegion()
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            user_agent_extra="gclog",
        )
        return session.client("firehose", endpoint_url=self.endpoint_url, config=config)

    def warm_up(self) -> None:
        """Make the client now (imports, credentials), so the first call does not wait for it.

        A failure is left for :meth:`put` to report: it tries again and says why.
        """
        if self._client is None:
            with contextlib.suppress(Exception):
                self._client = self._make_client()

    def put(self, records: list[bytes], until: Callable[[], float] | None = None) -> CallOutcome:
        """Send ``records`` in one call, waiting for its whole answer until ``until()`` (a
        ``time.monotonic()`` deadline, looked at as the call goes: a stop may bring it closer);
        by default for CALL_BOUND_S.

        Never raises for anything the network or AWS does. The call runs in a helper thread; one
        that runs past its deadline is abandoned (its answer, if it ever comes, is ignored: the
        records count as not accepted and are sent again, at least once as ever).
        """
        started = time.monotonic()
        if until is None:
            until = lambda: started + CALL_BOUND_S  # noqa: E731
        everything = list(range(len(records)))
        done = threading.Event()
        answer: dict[str, Any] = {}

        def call() -> None:
            try:
                if self._client is None:
                    self._client = self._make_client()
                self.calls += 1
                answer["reply"] = self._client.put_record_batch(
                    DeliveryStreamName=self.stream, Records=[{"Data": data} for data in records]
                )
            except Exception as exc:  # classified below; anything unknown is retried, not raised
                answer["error"] = exc
            finally:
                done.set()

        threading.Thread(target=call, name="gclog-put", daemon=True).start()
        while not done.wait(max(0.0, min(0.05, until() - time.monotonic()))):
            if time.monotonic() >= until():
                waited = time.monotonic() - started
                return CallOutcome(
                    failed=everything,
                    error=ShipError(
                        "network", f"no answer from {self._where()} within {waited:.1f} s", True
                    ),
                )
        if "error" in answer:
            return CallOutcome(failed=everything, error=self.classify(answer["error"]))
        reply = answer["reply"]
        responses = reply.get("RequestResponses") or []
        outcome = CallOutcome()
        for index in everything:
            answer = responses[index] if index < len(responses) else {"ErrorCode": "Missing"}
            (outcome.failed if answer.get("ErrorCode") else outcome.accepted).append(index)
        if outcome.failed:
            codes = sorted(
                {str(responses[i].get("ErrorCode")) for i in outcome.failed if i < len(responses)}
            )
            outcome.error = ShipError(
                "unavailable",
                f"Firehose refused {len(outcome.failed)} of {len(records)} records "
                f"({', '.join(codes) or 'no answer for them'})",
                retryable=True,
            )
        return outcome

    def classify(self, exc: BaseException) -> ShipError:
        import botocore.exceptions as bce

        if isinstance(exc, CredentialError):
            return ShipError("credentials", str(exc), retryable=False)
        if isinstance(exc, _NoRegion | bce.NoRegionError):
            return ShipError(
                "region",
                "no AWS region set for Firehose (give --region, GCLOG_REGION or AWS_DEFAULT_REGION)",
                retryable=False,
            )
        if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
            return ShipError("credentials", f"AWS credentials: {exc}", retryable=False)
        if isinstance(exc, bce.ClientError):
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            code = str(error.get("Code") or status)
            if code.isdigit():  # a body botocore could not parse (XML from a proxy, say)
                found = re.search(r"<Code>(\w+)</Code>", str(error.get("Message", "")))
                code = found.group(1) if found else f"HTTP {status}"
            if code == "ResourceNotFoundException":
                return ShipError(
                    "stream", f"{self.destination} does not exist ({code})", retryable=False
                )
            if code in CREDENTIAL_CODES or status in (401, 403):
                return ShipError(
                    "credentials",
                    f"Firehose rejected the credentials from {self.credentials_source} ({code})",
                    retryable=False,
                )
            if code in RETRYABLE_CODES or status >= 500 or status == 429:
                return ShipError("unavailable", f"Firehose is unavailable ({code})", True)
            return ShipError("rejected", f"Firehose refused the call ({code})", retryable=False)
        if isinstance(exc, bce.EndpointConnectionError | bce.ConnectTimeoutError):
            return ShipError("network", f"cannot reach {self._where()}", retryable=True)
        if isinstance(exc, bce.ConnectionError | bce.HTTPClientError | OSError):
            reason = type(exc).__name__
            return ShipError("network", f"connection to {self._where()} failed ({reason})", True)
        return ShipError("network", f"sending to Firehose failed ({type(exc).__name__})", True)

    def _where(self) -> str:
        return self.endpoint_url or f"Firehose in {self.region or 'the default region'}"


class _NoRegion(Exception):
    pass
