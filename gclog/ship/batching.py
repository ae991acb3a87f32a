"""Stored records → Firehose records → PutRecordBatch calls, within Firehose's limits.

Each event is one newline-terminated JSON line (Firehose adds no delimiter). Several lines are
packed into one Firehose record, up to ``pack_bytes``: Firehose bills each record rounded up to
5 KB and a stream takes 5,000 records/s, so a 600-byte event sent alone costs 8× and uses a
quota slot; packed, each event is still one line downstream (DESIGN.md §7). ``pack_bytes = 0``
sends one event per record, for consumers that need that.

Limits (they cannot be raised): a record ≤ 1,000 KiB, a call ≤ 500 records and ≤ 4 MiB. An event
too big for one record is shrunk (gclog/shrink.py) — its largest text fields cut, with a marker,
and their paths listed in ``truncated_fields`` — never dropped. The store keeps the whole event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gclog.shrink import Cuts, json_size, shrink

MAX_RECORD_BYTES = 1000 * 1024
MAX_CALL_RECORDS = 500
MAX_CALL_BYTES = 4 * 1024 * 1024
MIN_CUTTABLE = 1024  # strings shorter than this are left whole while a bigger value can give way


@dataclass
class Pack:
    """One Firehose record: newline-terminated events, and the store row ids they came from."""

    data: bytearray = field(default_factory=bytearray)
    ids: list[int] = field(default_factory=list)


def line_of(body: str, limit: int = MAX_RECORD_BYTES) -> bytes:
    """One event as the bytes Firehose gets: newline-terminated, at most ``limit`` bytes."""
    data = body.encode("utf-8") + b"\n"
    if len(data) <= limit:
        return data
    return _dumps(shrink_to(json.loads(body), limit - 1)) + b"\n"


def pack(rows: Iterable[tuple[int, str]], pack_bytes: int) -> list[Pack]:
    """Pack events (row id, JSON text), in order, into records of at most ``pack_bytes``."""
    capacity = min(max(pack_bytes, 0), MAX_RECORD_BYTES)
    packs: list[Pack] = []
    current = Pack()
    for row_id, body in rows:
        data = line_of(body)
        if current.ids and len(current.data) + len(data) > capacity:
            packs.append(current)
            current = Pack()
        current.data += data
        current.ids.append(row_id)
    if current.ids:
        packs.append(current)
    return packs


def calls(
    packs: Iterable[Pack], max_records: int = MAX_CALL_RECORDS, max_bytes: int = MAX_CALL_BYTES
) -> Iterator[list[Pack]]:
    """Group records into PutRecordBatch calls of at most ``max_records`` and ``max_bytes``."""
    batch: list[Pack] = []
    size = 0
    for item in packs:
        if batch and (len(batch) == max_records or size + len(item.data) > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item.data)
    if batch:
        yield batch


# -- shrinking an event that is too big for one Firehose record -----------------------------------


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _marker(cut: int) -> str:
    return f"…[gclog: {cut} bytes cut to fit Firehose's 1,000 KiB record limit]"


def _cut_text(value: str, excess: int) -> str:
    """Keep the head; each character cut saves at least a byte, the marker costs its length."""
    keep = max(0, len(value) - excess - len(_marker(json_size(value)).encode()) - 16)
    return value[:keep] + _marker(json_size(value[keep:]))


FIREHOSE_CUTS = Cuts(
    text=_cut_text,
    bulk=lambda value, _excess: _marker(json_size(value)),
    min_text=MIN_CUTTABLE,
    list_cuts=True,
)


def shrink_to(record: dict[str, Any], limit: int) -> dict[str, Any]:
    """A copy of ``record`` whose JSON is at most ``limit`` bytes, its biggest texts cut first.

    The cut paths are listed in ``truncated_fields``. Envelope fields are small and are never the
    biggest value.
    """
    record = json.loads(json.dumps(record))  # a deep copy we may cut
    shrink(record, limit, FIREHOSE_CUTS, rounds=1000)
    if json_size(record) > limit:  # nothing left to cut (cannot happen with a sane limit)
        raise ValueError(f"cannot shrink a record to {limit} bytes")
    return record
