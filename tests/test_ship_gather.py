"""A quiet session's shipper gathers records for a few looks instead of sending each one alone.

Firehose bills every record rounded up to 5 KB and a stream's quota counts calls: a notebook that
records a small event now and then must not cost a call (and 5 KB) per event.
"""

from __future__ import annotations

import time
from pathlib import Path

from firehose_helpers import FirehoseWorld

from gclog.ship.shipper import Shipper
from gclog.store.store import Store

INTERVAL = 0.05
EVENTS = 40


def _trickle(path: Path, firehose: FirehoseWorld, gather: bool, tag: str) -> int:
    """EVENTS small events, one per look; the calls it took, everything delivered."""
    shipper = Shipper(path, firehose.sender(), interval=INTERVAL)
    if not gather:
        shipper.gather_max_s = INTERVAL  # every look ships what it found, as before gathering
    before = len(firehose.proxy.calls)
    shipper.start()
    with Store(path) as store:
        for seq in range(EVENTS):
            store.append(
                {
                    "schema": "gclog/1",
                    "event_id": f"{tag}-{seq}",
                    "event_type": "cell",
                    "event_time": "2026-12-01T00:00:00.000000Z",
                    "session_id": tag,
                    "seq": seq,
                }
            )
            time.sleep(INTERVAL)
    report = shipper.stop(timeout=30)
    assert report.remaining == 0 and report.delivered == EVENTS  # gathering loses nothing
    return len(firehose.proxy.calls) - before


def test_small_events_are_gathered_into_fewer_calls(
    tmp_path: Path, firehose: FirehoseWorld
) -> None:
    every_look = _trickle(tmp_path / "a.db", firehose, gather=False, tag="a")
    gathered = _trickle(tmp_path / "b.db", firehose, gather=True, tag="b")
    # Under load the looks themselves slow down and the first count falls: compare loosely, and
    # hold the gathered count to at least four events a call.
    assert gathered < every_look and gathered * 4 <= EVENTS, (gathered, every_look)
    delivered = {event["event_id"] for event in firehose.moto.delivered()}
    assert delivered == {f"{t}-{seq}" for t in "ab" for seq in range(EVENTS)}
