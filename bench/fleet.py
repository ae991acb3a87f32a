"""A fleet on paper: many sessions shipping at once to one Firehose stream, and what it carries.

SESSIONS sessions run at once as threads of one process, each as a separate machine would: its
own store, its own :class:`~gclog.pipeline.session.Session` (the background writer), its own
background :class:`~gclog.ship.shipper.Shipper` and Firehose client, at the default settings. All
ship to one stream on moto's Firehose server (its own process). Each records at an interactive
notebook's pace for DURATION seconds: a cell every CELL_EVERY_S on average (exponential gaps), a
metrics window every METRICS_EVERY_S (the samplers' default window); the records are real ones,
taken from a `gclog run` made first. Every PutRecordBatch is counted where the shipper makes it
(calls, Firehose records, bytes) and still goes to moto.

From the per-session rates it works out how many such notebooks one stream's default quotas
carry: 2,000 calls/s, 5,000 records/s, 5 MiB/s (Firehose's quotas for a stream in the large
regions; its bill rounds each record up to 5 KB).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from bench.common import BIN, REPO, isolated_env, median, scratch, write_section
from bench.shipping import AWS, make_stream, start_moto

SESSIONS = 200
DURATION_S = 90.0
WARM_UP_S = 30.0  # rates count from here: a gathering shipper has reached its pace by then
SPAN_S = DURATION_S - WARM_UP_S
POLICIES = {"each look ships what it finds (before)": False, "gathering (now)": True}
CELL_EVERY_S = 15.0
METRICS_EVERY_S = 10.0
BILLING_UNIT = 5 * 1024  # Firehose bills each record rounded up to 5 KB
QUOTAS = {"calls": 2000.0, "records": 5000.0, "bytes": 5 * 2**20}


@dataclass
class Tally:
    """What one session's shipper sent."""

    calls: int = 0
    records: int = 0
    bytes_sent: int = 0
    bytes_billed: int = 0
    events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, records: list[bytes]) -> None:
        with self.lock:
            self.calls += 1
            self.records += len(records)
            self.bytes_sent += sum(len(r) for r in records)
            self.bytes_billed += sum(-(-len(r) // BILLING_UNIT) * BILLING_UNIT for r in records)
            self.events += sum(r.count(b"\n") for r in records)


def copy(tally: Tally) -> Tally:
    with tally.lock:
        return Tally(tally.calls, tally.records, tally.bytes_sent, tally.bytes_billed, tally.events)


def minus(later: Tally, earlier: Tally) -> Tally:
    return Tally(
        later.calls - earlier.calls,
        later.records - earlier.records,
        later.bytes_sent - earlier.bytes_sent,
        later.bytes_billed - earlier.bytes_billed,
        later.events - earlier.events,
    )


def counted(put: Callable[..., Any], tally: Tally) -> Callable[..., Any]:
    def put_and_count(records: list[bytes], until: Any = None) -> Any:
        tally.add(records)
        return put(records, until)

    return put_and_count


def templates(where: Path) -> dict[str, dict[str, Any]]:
    """A real cell record and a real metrics record, from a `gclog run` with metrics on."""
    env = isolated_env(where / "templates")
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [new_code_cell("import time\nfor i in range(3):\n    print(i)\ntime.sleep(11)")]
    path = where / "template.ipynb"
    nbformat.write(nb, path)
    subprocess.run([str(BIN / "gclog"), "run", str(path)], env=env, capture_output=True, check=True)
    exported = subprocess.run(
        [str(BIN / "gclog"), "export", "--last"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, dict[str, Any]] = {}
    for line in exported.splitlines():
        record = json.loads(line)
        found.setdefault(record["event_type"], record)
    envelope = ("schema", "event_id", "event_type", "event_time", "session_id", "seq", "source")
    envelope += ("user_id", "notebook_id", "gclog_version")
    return {
        kind: {k: v for k, v in found[kind].items() if k not in envelope}
        for kind in ("cell", "metrics")
    }


def fleet(
    url: str, stream: str, where: Path, fields: dict[str, dict[str, Any]], gather: bool
) -> list[Tally]:
    from gclog.identity import Identity
    from gclog.pipeline.session import Session
    from gclog.ship.firehose import FirehoseSender
    from gclog.ship.shipper import Shipper
    from gclog.store.store import Store

    sessions, shippers, tallies = [], [], []
    for n in range(SESSIONS):
        home = where / f"{'g' if gather else 'e'}{n}"
        home.mkdir()
        store = Store(home / "store.sqlite3")
        session = Session("run", store, Identity.load_or_create(home / "identity.json"))
        sender = FirehoseSender(stream, region="us-east-1", endpoint_url=url)
        tally = Tally()
        sender.put = counted(sender.put, tally)  # type: ignore[method-assign]
        shipper = Shipper(home / "store.sqlite3", sender)  # the defaults: 256 KiB packs, 2 s
        if not gather:
            shipper.gather_max_s = shipper.interval  # a look every 2 s ships what it finds
        shipper.start()
        sessions.append((session, store))
        shippers.append(shipper)
        tallies.append(tally)
    rng = random.Random(13)
    start = time.monotonic()
    due: list[tuple[float, int, str]] = []
    for n in range(SESSIONS):
        due.append((start + rng.expovariate(1 / CELL_EVERY_S), n, "cell"))
        due.append((start + rng.uniform(0, METRICS_EVERY_S), n, "metrics"))
    warm: list[Tally] | None = None
    while True:
        due.sort()
        when, n, kind = due.pop(0)
        if warm is None and when >= start + WARM_UP_S:
            warm = [copy(t) for t in tallies]  # the shippers have found their pace
        if when >= start + DURATION_S:
            break
        time.sleep(max(0.0, when - time.monotonic()))
        sessions[n][0].emit(kind, fields[kind])
        gap = rng.expovariate(1 / CELL_EVERY_S) if kind == "cell" else METRICS_EVERY_S
        due.append((when + gap, n, kind))
    # The rates are the steady state's: from WARM_UP_S to the end, before the sessions' ends.
    assert warm is not None
    steady = [minus(copy(t), w) for t, w in zip(tallies, warm, strict=True)]
    for session, _ in sessions:
        session.close(10.0)
    for shipper in shippers:
        shipper.stop(10.0)
    for _, store in sessions:
        store.close()
    return steady


def main() -> None:
    saved = dict(os.environ)
    os.environ.update(AWS)
    try:
        with scratch() as tmp:
            where = Path(tmp)
            print("fleet: making template records with gclog run …", file=sys.stderr)
            fields = templates(where)
            server, url = start_moto()
            try:
                stream = "gclog-fleet"
                make_stream(url, stream)
                results = {}
                for label, gather in POLICIES.items():
                    print(f"fleet: {SESSIONS} sessions, {label} …", file=sys.stderr)
                    results[label] = fleet(url, stream, where, fields, gather)
            finally:
                server.kill()
                server.wait()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    body = (
        intro()
        + "\n\n"
        + "\n\n".join(f"### {label}\n\n{report(tallies)}" for label, tallies in results.items())
    )
    print(body)
    write_section(
        "fleet", "A fleet on one Firehose stream", "make bench  (python -m bench fleet)", body
    )
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / "fleet.json").write_text(
        json.dumps(
            {k: [t.__dict__ | {"lock": None} for t in v] for k, v in results.items()}, indent=1
        )
    )


def intro() -> str:
    return (
        f"{SESSIONS} sessions at once for {DURATION_S:.0f} s, each with its own store, writer "
        "and background shipper (records packed up to 256 KiB, a look at the store every 2 s), "
        "all shipping to one moto Firehose stream. Each records like an interactive notebook: "
        f"a cell every {CELL_EVERY_S:.0f} s on average, a metrics window every "
        f"{METRICS_EVERY_S:.0f} s; real records from a `gclog run`. Rates are per session, "
        f"from {WARM_UP_S:.0f} s to {DURATION_S:.0f} s (the shippers at their pace; the flush at "
        "each session's end left out). The machine (2 cores) was shared "
        "with other work; moto answers in a few ms, as the real service does not, which only "
        "matters to latency, not to these counts. Two policies, one after the other in the same "
        "run: each look ships whatever it finds (as gclog did), and gathering (gclog now): a "
        "look that finds less than four billing units (20 KiB) makes the next one wait twice "
        "as long, up to 15 looks (30 s); a look that finds more halves the wait, down to 2 s."
    )


def report(tallies: list[Tally]) -> str:
    calls = sum(t.calls for t in tallies)
    records = sum(t.records for t in tallies)
    events = sum(t.events for t in tallies)
    sent = sum(t.bytes_sent for t in tallies)
    billed = sum(t.bytes_billed for t in tallies)
    per_session = {
        "calls": calls / SESSIONS / SPAN_S,
        "records": records / SESSIONS / SPAN_S,
        "bytes": sent / SESSIONS / SPAN_S,
        "billed": billed / SESSIONS / SPAN_S,
    }
    carried = {k: QUOTAS[k] / per_session[k] for k in QUOTAS}
    bound = min(carried, key=lambda k: carried[k])
    per_call = [t.records / t.calls for t in tallies if t.calls]
    events_per_record = events / records if records else 0
    return "\n".join(
        [
            "| per session | measured |",
            "|---|---|",
            f"| events shipped | {events / SESSIONS / SPAN_S:.3f} /s |",
            f"| PutRecordBatch calls | {per_session['calls']:.3f} /s |",
            f"| Firehose records | {per_session['records']:.3f} /s "
            f"({events_per_record:.2f} events each) |",
            f"| Firehose records per call | median {median(per_call):.2f}, "
            f"mean {records / calls:.2f} |",
            f"| bytes sent | {per_session['bytes']:.0f} B/s |",
            f"| bytes billed (each record rounded up to 5 KB) | {per_session['billed']:.0f} B/s |",
            f"| **billed ÷ sent** | **{billed / sent:.2f}×** |",
            "",
            "| one stream's default quota | notebooks like these it carries |",
            "|---|---|",
            f"| 2,000 calls/s | {carried['calls']:,.0f} |",
            f"| 5,000 records/s | {carried['records']:,.0f} |",
            f"| 5 MiB/s | {carried['bytes']:,.0f} |",
            f"| **all three** | **{carried[bound]:,.0f}** (bound by the {bound} quota) |",
            "",
            f"In those {SPAN_S:.0f} s the {SESSIONS} sessions shipped {events:,} events in {calls:,} calls and {records:,} "
            f"Firehose records ({sent / 1e6:.2f} MB sent, {billed / 1e6:.2f} MB billed).",
        ]
    )


if __name__ == "__main__":
    main()
