"""The shipper: undelivered records from the store to Firehose, in the background or on demand.

Data flows one way: the session commits records to the store; the shipper reads them back from
the store (its own connection), so it only ever sends what is durable, and a record is marked
delivered only once Firehose has accepted it. A cycle claims up to one call's worth of records,
packs them, sends, marks what was accepted, and gives back the rest. Failures wait for a
:class:`~gclog.ship.firehose.Backoff` (retryable) or longer (configuration errors); nothing is
ever dropped here. The session's thread never waits on any of this, except for the bounded flush
at its end (:meth:`Shipper.stop`).

Claims carry an owner id (host, pid, process start time, a random tag): a claim whose owner
process is gone (``kill -9``) is taken back at once by the next shipper on that host; any other
claim lapses after ``LEASE_S``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gclog.records import now_iso
from gclog.ship import batching
from gclog.ship.firehose import CALL_BOUND_S, Backoff, CallOutcome, ShipError
from gclog.store.store import Store

log = logging.getLogger(__name__)

STOP_GRACE_S = 2.0  # past the deadline, for the marking of a reply that came just in time
LEASE_S = 120.0  # well above one call's worst case (connect 5 s + read 15 s)
FATAL_WAIT_S = 60.0  # a configuration error (credentials, stream) is retried this rarely
CLAIM_RECORDS = 10_000
CLAIM_BYTES = batching.MAX_CALL_BYTES * 15 // 16  # room for the newlines, so one call holds it
# Firehose bills each record rounded up to a multiple of 5 KB, and a stream's quota counts calls:
# a look that finds less than four of those makes the next one wait twice as long, up to
# GATHER_LOOKS intervals; one that finds more halves the wait, down to the interval.
GATHER_BYTES = 4 * 5 * 1024
GATHER_LOOKS = 15


class Sender(Protocol):
    destination: str
    calls: int

    def warm_up(self) -> None: ...

    def put(
        self, records: list[bytes], until: Callable[[], float] | None = None
    ) -> CallOutcome: ...


@dataclass
class Cycle:
    claimed: int = 0
    claimed_bytes: int = 0
    delivered: int = 0
    set_aside: int = 0  # refused by Firehose for themselves: kept out of the queue
    error: ShipError | None = None

    @property
    def full(self) -> bool:
        """It took a whole call's worth: more is likely waiting, so look again at once."""
        return self.claimed >= CLAIM_RECORDS or self.claimed_bytes >= CLAIM_BYTES * 3 // 4


@dataclass
class ShipReport:
    delivered: int  # records this shipper delivered
    remaining: int  # undelivered records left in the store (from any session)
    error: ShipError | None  # the last failure, if records remain
    calls: int
    set_aside: int = 0  # records in the store's set_aside table (refused for themselves)
    elsewhere: int = 0  # of ``remaining``, those another live gclog process is sending now

    def summary(self) -> str:
        """One line for the user about records that did not ship."""
        reason = (
            self.error.message
            if self.error
            else "the time ran out, or another gclog process is sending them"
        )
        return (
            f"{self.remaining} record{'s' if self.remaining != 1 else ''} not shipped: {reason}; "
            "they are kept in the store for `gclog flush`"
        )


def owner_id() -> str:
    import psutil

    started = psutil.Process().create_time()
    return f"{socket.gethostname()}|{os.getpid()}|{started:.2f}|{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str) -> bool:
    """True when ``owner``'s process, on this host, has exited (or its pid now names another)."""
    import psutil

    try:
        host, pid, started, _ = owner.split("|")
        if host != socket.gethostname():
            return False  # not ours to judge: its lease will lapse
        process = psutil.Process(int(pid))
        return abs(process.create_time() - float(started)) > 0.05
    except psutil.NoSuchProcess:
        return True
    except (ValueError, psutil.Error):
        return False


class Shipper:
    def __init__(
        self,
        store_path: Path,
        sender: Sender,
        pack_bytes: int = 256 * 1024,
        interval: float = 2.0,
        lease_s: float = LEASE_S,
    ) -> None:
        self.store_path = store_path
        self.sender = sender
        self.pack_bytes = pack_bytes
        self.interval = interval
        self.gather_max_s = interval * GATHER_LOOKS  # set it to interval: no gathering
        self.lease_s = lease_s
        self.owner = owner_id()
        self.delivered = 0
        self.last_error: ShipError | None = None
        self._wake = threading.Event()
        self._finished = threading.Event()
        self._deadline: float | None = None  # set: drain until empty or this monotonic time
        self._thread: threading.Thread | None = None

    # -- one cycle --------------------------------------------------------------------------------

    def cycle(self, store: Store) -> Cycle:
        """Claim, pack, send, mark. Never raises for network or AWS trouble."""
        for owner in store.claim_owners():
            if owner != self.owner and owner_is_gone(owner):
                store.release(owner)
        rows = store.claim(self.owner, CLAIM_RECORDS, CLAIM_BYTES, self.lease_s)
        result = Cycle(claimed=len(rows), claimed_bytes=sum(len(body) for _, body in rows))
        if not rows:
            return result
        unsent = {row_id for row_id, _ in rows}
        bodies = dict(rows)
        suspects: dict[int, ShipError] = {}
        try:
            for call in batching.calls(batching.pack(rows, self.pack_bytes)):
                error = self._send(store, call, bodies, result, unsent, suspects)
                if error is not None:
                    result.error = error
                    break  # the rest waits for the backoff, with the failed records
            if suspects:
                self._set_aside(store, suspects, result, unsent)
        finally:
            if unsent:
                store.release(self.owner, unsent)
            self.delivered += result.delivered
            self._note(store, result)
        return result

    def _send(
        self,
        store: Store,
        call: list[batching.Pack],
        bodies: dict[int, str],
        result: Cycle,
        unsent: set[int],
        suspects: dict[int, ShipError],
    ) -> ShipError | None:
        """One call; a call refused whole for what it holds (a 400) is split in halves, and a
        packed record into its events, until the one refused alone is found (a suspect)."""
        outcome = self.sender.put(
            [bytes(item.data) for item in call], self._call_deadline(time.monotonic())
        )
        accepted = [row_id for i in outcome.accepted for row_id in call[i].ids]
        if accepted:
            store.mark_delivered(accepted)
            unsent.difference_update(accepted)
            result.delivered += len(accepted)
        error = outcome.error
        if error is None or error.kind != "rejected" or outcome.accepted:
            return error
        if len(call) > 1:
            middle = len(call) // 2
            for half in (call[:middle], call[middle:]):
                failed = self._send(store, half, bodies, result, unsent, suspects)
                if failed is not None:
                    return failed
            return None
        ids = call[0].ids
        if len(ids) > 1:
            singles = batching.pack([(i, bodies[i]) for i in ids], 0)
            return self._send(store, singles, bodies, result, unsent, suspects)
        suspects[ids[0]] = error
        return None

    def _set_aside(
        self, store: Store, suspects: dict[int, ShipError], result: Cycle, unsent: set[int]
    ) -> None:
        """Records refused alone are set aside (kept, where `gclog status` shows them), so the
        rest flows; but only when others were accepted in the same cycle: a stream that refuses
        everything has a problem of its own, and the records wait for it as before."""
        first = next(iter(suspects.values()))
        if not result.delivered:
            result.error = result.error or first
            return
        store.set_aside(suspects, first.message)
        unsent.difference_update(suspects)
        result.set_aside += len(suspects)
        log.info("%d records set aside: %s", len(suspects), first.message)

    def _call_deadline(self, started: float) -> Callable[[], float]:
        """When a call begun at ``started`` must be answered: its own bound, or the deadline of
        a flush or a stop when that comes first (it may be set while the call is in flight)."""

        def until() -> float:
            deadline = self._deadline
            own = started + CALL_BOUND_S
            return own if deadline is None else min(own, deadline)

        return until

    def _note(self, store: Store, result: Cycle) -> None:
        """Persist the outcome for `gclog status` (any process reads it)."""
        self.last_error = result.error
        store.set_meta(
            {
                "ship.at": now_iso(),
                "ship.ok": "false" if result.error else "true",
                "ship.records": str(result.delivered),
                "ship.error": result.error.message if result.error else "",
                "ship.destination": self.sender.destination,
            }
        )

    def _safe_cycle(self, store: Store) -> Cycle:
        try:
            return self.cycle(store)
        except Exception as exc:  # a bug or a broken store must not reach the session
            log.debug("shipper cycle failed", exc_info=True)
            error = ShipError("internal", f"shipping failed ({type(exc).__name__}: {exc})", True)
            self.last_error = error
            return Cycle(error=error)

    # -- the loop: background (a session) or in the caller's thread (gclog flush) -----------------

    def _loop(self, store: Store) -> None:
        backoff = Backoff()
        gather = self.interval
        while True:
            result = self._safe_cycle(store)
            deadline = self._deadline
            if result.error is None:
                backoff.reset()
                if deadline is not None:
                    if not result.claimed:
                        return  # drained
                    wait = 0.0
                else:
                    # Between full calls, let records gather: fewer, fuller calls. A quiet
                    # notebook ships every ~30 s, not every 2 s (Firehose itself buffers
                    # minutes before it writes to S3); a busy one soon looks every 2 s again.
                    if result.claimed_bytes < GATHER_BYTES:
                        gather = min(gather * 2, self.gather_max_s)
                    else:
                        gather = max(gather / 2, self.interval)
                    wait = 0.0 if result.full else gather
            elif not result.error.retryable:
                if deadline is not None:
                    return  # waiting cannot fix a configuration error within a flush
                wait = FATAL_WAIT_S
            else:
                wait = backoff.next()
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = min(wait, left)
            if wait > 0 and self._wake.wait(wait):
                self._wake.clear()
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return  # no call begun at its deadline: it could only be abandoned

    def _run_in_thread(self) -> None:
        store: Store | None = None
        try:
            # Imports and credentials now, while the session starts, not in its first cell.
            self.sender.warm_up()
            store = Store(self.store_path)
            self._loop(store)
        except Exception as exc:  # the session goes on; its records stay in the store
            log.debug("shipper stopped", exc_info=True)
            self.last_error = ShipError("internal", f"shipping stopped ({exc})", True)
        finally:
            if store is not None:
                try:
                    store.release(self.owner)
                finally:
                    store.close()
            self._finished.set()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run_in_thread, name="gclog-shipper", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float) -> ShipReport:
        """Ship what is left for at most ``timeout`` seconds, then stop; the rest stays stored.

        Every call is bounded by the deadline, so the thread is done when this returns: a reply
        that came in time is marked delivered, one that did not counts as not accepted.
        """
        self._deadline = time.monotonic() + timeout
        self._wake.set()
        self._finished.wait(timeout + STOP_GRACE_S)
        return self.report()

    def wait_finished(self, timeout: float) -> bool:
        """Wait for the background thread to end (a call in flight may outlive :meth:`stop`)."""
        return self._finished.wait(timeout)

    def flush(self, timeout: float) -> ShipReport:
        """Ship the backlog now, in this thread, for at most ``timeout`` seconds (gclog flush).

        The client is made first (imports, credentials: botocore bounds their lookups), so a
        short timeout is spent on calls, not on imports.
        """
        self.sender.warm_up()
        self._deadline = time.monotonic() + timeout
        with Store(self.store_path) as store:
            try:
                self._loop(store)
            finally:
                store.release(self.owner)
        return self.report()

    def report(self) -> ShipReport:
        with Store(self.store_path) as store:
            status = store.shipping_status()
            elsewhere = store.claimed_elsewhere(self.owner) if status["undelivered"] else 0
        remaining = status["undelivered"]
        return ShipReport(
            delivered=self.delivered,
            remaining=remaining,
            error=self.last_error if remaining else None,
            calls=self.sender.calls,
            set_aside=status["set_aside"],
            elsewhere=elsewhere,
        )
