"""Making a record fit a byte limit: its biggest values give way first, and every cut is marked.

Two stages cut records to a size, for two reasons, with this one routine: the privacy filter keeps
every stored record under 256 KiB (cutting through the scrubber, so no half secret is left), and
the shipper keeps each Firehose record under its 1,000 KiB limit (listing what it cut in the
record's ``truncated_fields``). What differs is how a text or a bulky list is cut: :class:`Cuts`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Holder = dict[str, Any] | list[Any]


@dataclass(frozen=True)
class Cuts:
    """How a caller cuts. Both functions get the value and how many bytes the record is over."""

    text: Callable[[str, int], str]  # a long text → a shorter one, marked where cut
    bulk: Callable[[Holder, int], Any]  # a list (or dict) big for its many items → its stand-in
    min_text: int = 128  # shorter texts are left whole
    list_cuts: bool = False  # keep the paths cut in the record's ``truncated_fields``


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, the way records are stored and shipped."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def size_bound(value: Any) -> int:
    """An upper bound of ``json_size``, cheap to get: 6 bytes a character, 32 a scalar."""
    if isinstance(value, str):
        return 6 * len(value) + 2
    if isinstance(value, dict):
        return sum(size_bound(k) + size_bound(v) + 2 for k, v in value.items()) + 2
    if isinstance(value, list):
        return sum(size_bound(v) + 1 for v in value) + 2
    return 32


def shrink(record: dict[str, Any], limit: int, cuts: Cuts, rounds: int = 64) -> list[str]:
    """Cut ``record`` in place until its JSON is at most ``limit`` bytes; the paths cut, in order.

    Each round cuts the heaviest candidate: a text of at least ``cuts.min_text`` characters, or
    a list whose weight is its many items (none holds half of it: a list around one big text
    lets the text be cut instead). Only when neither is left does a dict give way. Gives up
    after ``rounds`` (the caller checks the size if it must be sure).
    """
    cut: list[str] = []
    for _ in range(rounds):
        if cut and cuts.list_cuts:
            record["truncated_fields"] = cut
        if size_bound(record) <= limit:
            break
        size = json_size(record)
        if size <= limit:
            break
        found = _heaviest(record, cuts.min_text)
        if found is None:
            break
        path, holder, key, value = found
        excess = size - limit
        holder[key] = (
            cuts.text(value, excess) if isinstance(value, str) else cuts.bulk(value, excess)
        )
        if path not in cut:
            cut.append(path)
    return cut


def _heaviest(record: dict[str, Any], min_text: int) -> tuple[str, Any, Any, Any] | None:
    texts_and_lists, dicts = [], []
    for path, holder, key, value in _values(record):
        if path == "truncated_fields" or path.startswith("truncated_fields."):
            continue
        if (isinstance(value, str) and len(value) >= min_text) or (
            isinstance(value, list) and value and _bulky(value)
        ):
            texts_and_lists.append((json_size(value), path, holder, key, value))
        elif isinstance(value, dict) and value:
            dicts.append((json_size(value), path, holder, key, value))
    candidates = texts_and_lists or dicts
    if not candidates:
        return None
    _, path, holder, key, value = max(candidates, key=lambda c: c[0])
    return path, holder, key, value


def _bulky(items: list[Any]) -> bool:
    """Heavy for its many items, not for one of them."""
    sizes = [json_size(item) for item in items]
    return len(items) > 1 and max(sizes) * 2 <= sum(sizes)


def _values(value: Holder, path: str = "") -> Iterator[tuple[str, Any, Any, Any]]:
    """(path, holder, key, value) of every value below the top level; paths like ``output.stdout``."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        child_path = f"{path}.{key}" if path else str(key)
        yield child_path, value, key, child
        if isinstance(child, dict | list):
            yield from _values(child, child_path)
