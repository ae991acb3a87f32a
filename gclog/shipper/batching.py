"""Stored records → Firehose records → PutRecordBatch calls, within Firehose's limits.

Each event is one newline-terminated JSON line (Firehose adds no delimiter). Several lines are
packed into one Firehose record, up to ``pack_bytes``: Firehose bills each record rounded up to
5 KB and a stream takes 5,000 records/s, so a 600-byte event sent alone costs 8× and uses a
quota slot; packed, each event is still one line downstream (DESIGN.md §7). ``pack_bytes = 0``
sends one event per record, for consumers that need that.

Limits (they cannot be raised): a record ≤ 1,000 KiB, a call ≤ 500 records and ≤ 4 MiB. An event
too big for one record is shrunk — its largest text fields cut, with a marker, and their paths
listed in ``truncated_fields`` — never dropped. The store keeps the whole event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

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
    return _dumps(shrink(json.loads(body), limit - 1)) + b"\n"


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


def _values(value: Any, path: str = "") -> Iterator[tuple[str, Any, Any, Any]]:
    """(path, parent, key, value) of every value below the top level."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        child_path = f"{path}.{key}" if path else str(key)
        yield child_path, value, key, child
        if isinstance(child, dict | list):
            yield from _values(child, child_path)


def shrink(record: dict[str, Any], limit: int) -> dict[str, Any]:
    """A copy of ``record`` whose JSON is at most ``limit`` bytes, its biggest texts cut first.

    Strings keep their head and get a marker; if no string of at least MIN_CUTTABLE characters
    is left, the biggest list or object gives way to a marker instead. The cut paths are listed
    in ``truncated_fields``. Envelope fields are small and are never the biggest value.
    """
    record = json.loads(json.dumps(record))  # a deep copy we may cut
    cut_paths: list[str] = []
    while True:
        if cut_paths:
            record["truncated_fields"] = cut_paths
        size = len(_dumps(record))
        if size <= limit:
            return record
        excess = size - limit
        sized = [
            (len(_dumps(value)), path, parent, key, value)
            for path, parent, key, value in _values(record)
            if path != "truncated_fields" and not path.startswith("truncated_fields.")
        ]
        strings = [s for s in sized if isinstance(s[4], str) and len(s[4]) >= MIN_CUTTABLE]
        candidates = strings or [s for s in sized if isinstance(s[4], dict | list) and s[4]]
        if not candidates:  # nothing left to cut (cannot happen with a sane limit)
            raise ValueError(f"cannot shrink a record to {limit} bytes")
        weight, path, parent, key, value = max(candidates, key=lambda s: s[0])
        if isinstance(value, str):
            # Each character cut saves at least one byte; the marker costs its own length.
            marker = _marker(weight)
            keep = max(0, len(value) - excess - len(marker.encode()) - 16)
            removed = len(_dumps(value[keep:]))
            parent[key] = value[:keep] + _marker(removed)
        else:
            parent[key] = _marker(weight)
        if path not in cut_paths:
            cut_paths.append(path)
