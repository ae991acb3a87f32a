"""The privacy filter: every record passes through it before it is written anywhere.

It walks the whole record, not only the fields it knows, so a field added later cannot carry a
secret past it:

- known text fields (``TEXT_FIELDS``: code, output excerpts, error value and traceback, notebook
  name) are scrubbed at the privacy level's rules and cut to their documented cap, or dropped at
  ``metadata``;
- every other string is scrubbed too (secrets and blobs at ``full``, personal data as well at
  ``redacted`` and ``metadata``) and cut to ``OTHER_TEXT_CAP``; the envelope's own ids are left as
  they are;
- control characters and lone surrogates become U+FFFD, bytes become their size, NaN and infinities
  become null: nothing binary or invalid reaches the store;
- a record still over ``RECORD_BYTES_LIMIT`` (far under Firehose's 1,000 KiB) has its largest field
  halved until it fits (gclog/shrink.py).

What was removed is counted in the record's ``redactions`` (kinds and counts, never values). If the
filter itself fails, the record is kept as its envelope only: never lost, never written unscrubbed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gclog.privacy.excerpt import scrub_excerpt
from gclog.privacy.rules import personal_scrubber, secret_scrubber
from gclog.privacy.scrubber import Scrubber
from gclog.shrink import Cuts, json_size, shrink, size_bound
from gclog.text import cut_marker
from gclog.warn import warn

KIB = 1024
RECORD_BYTES_LIMIT = 256 * KIB
OTHER_TEXT_CAP = 4 * KIB


@dataclass(frozen=True)
class TextField:
    cap: int
    doc: str


# Dotted paths (event_type.field.subfield) of the fields that hold people's text.
TEXT_FIELDS: dict[str, TextField] = {
    "cell.code": TextField(64 * KIB, "the code executed"),
    "cell.output.stdout": TextField(8 * KIB, "excerpt of what the cell printed"),
    "cell.output.stderr": TextField(8 * KIB, "excerpt of what the cell printed to stderr"),
    "cell.output.result": TextField(8 * KIB, "excerpt of the cell's results and displays as text"),
    "cell.error.evalue": TextField(2 * KIB, "the exception's message"),
    "cell.error.traceback": TextField(16 * KIB, "the traceback"),
    "session_start.notebook.name": TextField(256, "the notebook's file name"),
}
# Strings gclog makes itself (ids, times, versions): nothing of the user's is in them.
GENERATED_FIELDS = frozenset(
    f"{event}.{name}"
    for event in ("session_start", "cell", "kernel", "session_end", "metrics")
    for name in (
        "schema",
        "event_id",
        "event_type",
        "event_time",
        "session_id",
        "source",
        "user_id",
        "notebook_id",
        "gclog_version",
    )
) | {  # a cell's times and states, which gclog writes itself (observe/observer.py, enrich/cells.py)
    "cell.times.queued_at",
    "cell.times.started_at",
    "cell.times.ended_at",
    "cell.status",
    "cell.cell_match",
}
# A client's id for an execute request, as jupyter_client ("<8 hex>-<24 hex>_<pid>_<n>") and the
# browser front ends (a UUID) make it: unique to each cell, so scrubbing it would cost a full scrub
# per record (half the filter's time on a trivial cell). Only an id of exactly this shape skips it;
# anything else in the field is scrubbed like any string.
_CLIENT_ID_FIELDS = frozenset(("cell.msg_id",))
_CLIENT_ID = re.compile(
    r"[0-9a-f]{8}-(?:[0-9a-f]{24}|[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:_[0-9]{1,10}_[0-9]{1,12})?"
)
# Kept at `metadata` although text: a class name says what failed, not what the data was.
_ENAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,255}")
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_MIN_SCRUBBABLE = 5  # no rule matches fewer characters than this ("pwd=x")
SHORT = 256  # texts up to this long have their scrubbed form remembered


def clean(text: str) -> str:
    """Control characters (bar tab, newline, return) and lone surrogates become U+FFFD."""
    # isprintable() is false for every character _UNPRINTABLE matches (categories Cc and Cs)
    return text if text.isprintable() else _UNPRINTABLE.sub("\ufffd", text)


def scrubber_for(level: str, identifiers: Iterable[str] = ()) -> Scrubber:
    """``full`` removes secrets and blobs; ``redacted`` and ``metadata`` personal data too."""
    return secret_scrubber() if level == "full" else personal_scrubber(identifiers)


@functools.cache
def _console_scrubber() -> Scrubber:
    return personal_scrubber()


def shown(text: str | None) -> str | None:
    """Text as gclog may print it on its own console before any record holds it (the code of a
    cell still running): scrubbed of secrets and personal data, whatever the privacy level."""
    return None if text is None else _console_scrubber().scrub(clean(text))


@dataclass
class _Tally:
    """What one record's walk found: the kinds removed, and an upper bound of its JSON size
    (``size_bound``'s, summed as the walk goes, so a record far under the limit is not measured
    again)."""

    counts: Counter[str] = field(default_factory=Counter)
    bound: int = 2

    def found(self, kinds: Counter[str]) -> None:
        if kinds:
            self.counts.update(kinds)


class PrivacyFilter:
    """``filter(record) -> record``, for :class:`gclog.pipeline.session.Session`'s ``record_filter``."""

    def __init__(self, level: str, identifiers: Iterable[str] = ()) -> None:
        self.level = level
        self.scrubber = scrubber_for(level, identifiers)
        # Field names, and short values, repeat from record to record: their results are kept.
        self._keys: dict[str, tuple[str, Counter[str], int]] = {}  # scrubbed, kinds, JSON bound
        self._short: dict[str, tuple[str, Counter[str]]] = {}
        self._warned = False

    def hide(self, identifiers: Iterable[str]) -> None:
        """Also remove these words (a host name, a notebook id) from text, at ``redacted``."""
        self.scrubber = scrubber_for(self.level, identifiers)
        self._keys.clear()
        self._short.clear()

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.apply(record)
        except Exception as exc:  # a bug here must cost the record's content, never the record
            return self._envelope_only(record, exc)

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        event = str(record.get("event_type", "record"))
        tally = _Tally()
        out = self._dict(event, record, tally)
        if event == "cell" and isinstance(record.get("code"), str):
            self._code(record["code"], out, tally)
        if self.level == "metadata":
            self._drop_text(event, out)
        if tally.counts:
            out["redactions"] = dict(sorted(tally.counts.items()))
            tally.bound += size_bound(out["redactions"]) + 16
        limit = RECORD_BYTES_LIMIT
        return out if tally.bound <= limit else fit(out, self.scrubber, limit)

    # -- the walk (every record, every field: kept lean) -------------------------------------------

    def _dict(self, path: str, value: dict[Any, Any], tally: _Tally) -> dict[str, Any]:
        out: dict[str, Any] = {}
        keys = self._keys
        bound = 2
        for key, item in value.items():
            known = keys.get(key) if type(key) is str else None
            if known is None:
                known = self._new_key(key)
            name, kinds, size = known
            if kinds:
                tally.counts.update(kinds)
            kind = type(item)
            if item is None or kind is int or kind is bool:
                out[name] = item
                bound += size + 32
            elif kind is float:
                out[name] = item if math.isfinite(item) else None
                bound += size + 32
            else:
                out[name] = self._value(f"{path}.{key}", item, tally)
                bound += size
        tally.bound += bound
        return out

    def _new_key(self, key: Any) -> tuple[str, Counter[str], int]:
        """A field name scrubbed like a value (and remembered: field names repeat)."""
        text = key if type(key) is str else str(key)
        known = self._keys.get(text)
        if known is None:
            found = _Tally()
            name = self._scrub(text, 256, found)
            known = (name, found.counts, 6 * len(name) + 6)  # its quotes, colon and comma
            if len(self._keys) < 4096:
                self._keys[text] = known
        return known

    def _value(self, path: str, value: Any, tally: _Tally) -> Any:
        if isinstance(value, str):
            text = self._string(path, value, tally)
            tally.bound += 6 * len(text) + 2
            return text
        if isinstance(value, dict):
            return self._dict(path, value, tally)
        if isinstance(value, (list, tuple)):
            tally.bound += 2 + len(value)
            return [self._value(f"{path}[]", v, tally) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            tally.bound += 32
            return None if isinstance(value, float) and not math.isfinite(value) else value
        if isinstance(value, (bytes, bytearray, memoryview)):
            tally.bound += 64
            return f"<binary: {len(bytes(value))} bytes>"
        return self._value(path, str(value), tally)

    def _string(self, path: str, text: str, tally: _Tally) -> str:
        if path in GENERATED_FIELDS:
            return clean(text)
        if path == "cell.code":
            return text  # done whole by _code, which also hashes it
        if path in _CLIENT_ID_FIELDS and _CLIENT_ID.fullmatch(text):
            return text
        text_field = TEXT_FIELDS.get(path)
        return self._scrub(text, text_field.cap if text_field else OTHER_TEXT_CAP, tally)

    def _scrub(self, text: str, cap: int, tally: _Tally) -> str:
        if len(text) <= SHORT and cap >= SHORT:  # ids, names, states: often seen before
            known = self._short.get(text)
            if known is None:
                if len(self._short) >= 4096:
                    self._short.clear()
                known = self._short[text] = self._scrub_now(text, cap)
            tally.found(known[1])
            return known[0]
        scrubbed, found = self._scrub_now(text, cap)
        tally.found(found)
        return scrubbed

    def _scrub_now(self, text: str, cap: int) -> tuple[str, Counter[str]]:
        text = clean(text)
        if len(text) < _MIN_SCRUBBABLE:
            return text, Counter()
        return scrub_excerpt(text, cap, self.scrubber)

    def _code(self, code: str, out: dict[str, Any], tally: _Tally) -> None:
        """Code is scrubbed whole: its hash is of the scrubbed code, so a secret can't be guessed
        from it, and the same cell hashes alike wherever it ran with whatever keys."""
        scrubbed, found = self.scrubber.scrub_counted(clean(code))
        tally.found(found)
        out["code_sha256"] = hashlib.sha256(scrubbed.encode("utf-8")).hexdigest()
        cap = TEXT_FIELDS["cell.code"].cap
        out["code"] = (
            scrubbed if len(scrubbed) <= cap else scrub_excerpt(scrubbed, cap, self.scrubber)[0]
        )
        tally.bound += 6 * len(out["code"]) + 64 + 2

    @staticmethod
    def _drop_text(event: str, out: dict[str, Any]) -> None:
        """`metadata`: no code or output text at all, only hashes, sizes and timings."""
        for path in TEXT_FIELDS:
            owner, _, rest = path.partition(".")
            if owner != event:
                continue
            *parents, leaf = rest.split(".")
            holder: Any = out
            for name in parents:
                holder = holder.get(name) if isinstance(holder, dict) else None
            if isinstance(holder, dict) and leaf in holder:
                holder[leaf] = None
        error = out.get("error") if event == "cell" else None
        if isinstance(error, dict) and not _ENAME.fullmatch(str(error.get("ename", ""))):
            error["ename"] = None

    def _envelope_only(self, record: dict[str, Any], exc: Exception) -> dict[str, Any]:
        if not self._warned:
            self._warned = True
            warn(
                f"the privacy filter failed ({type(exc).__name__}); "
                "keeping only the envelope of such records"
            )
        event = str(record.get("event_type", "record"))
        kept = {
            k: clean(str(v)) if isinstance(v, str) else v
            for k, v in record.items()
            if f"{event}.{k}" in GENERATED_FIELDS or k in _SAFE_SCALARS
        }
        return {**kept, "privacy_filter_error": type(exc).__name__}


# Numbers and fixed words that carry no text of the user's: kept even when the filter failed, so
# the record still says what happened (a cell's status, how long it took).
_SAFE_SCALARS = frozenset(
    (
        "seq",
        "status",
        "duration_s",
        "queue_wait_s",
        "index",
        "execution_count",
        "partial",
        "reason",
        "event",
    )
)


# -- the size guard --------------------------------------------------------------------------------


def fit(
    record: dict[str, Any], scrubber: Scrubber, limit: int = RECORD_BYTES_LIMIT
) -> dict[str, Any]:
    """Halve the record's largest text or list until its JSON is at most ``limit`` bytes.

    A text is halved through the scrubber (head and tail kept, never half a secret left).
    """
    shrink(
        record,
        limit,
        Cuts(
            text=lambda text, _excess: scrub_excerpt(text, len(text) // 2, scrubber)[0],
            bulk=lambda items, _excess: (
                items[: len(items) // 2]
                if isinstance(items, list)
                else cut_marker(json_size(items))
            ),
        ),
    )
    return record
