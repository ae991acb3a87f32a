"""Secrets in base64: a segment that decodes to text holding a credential is redacted whole.

Where credentials travel encoded: Docker's ``"auth"`` (``user:password``), Kubernetes secrets
(``data:`` values, ``.dockerconfigjson``), HTTP Basic, and the seed's own credentials file (two
base64 lines, each a key with a junk character at index 2). A segment is decoded only when it could
be base64 (length a multiple of four, 16 to 4096 characters); what it decodes to must be printable
text, and is then scanned with the format and name rules (one level deep: they do not decode
again), also with the character at index 2 dropped. A random binary blob decodes to control
characters and is left to the blob rule; a long printable token made of key characters only
(the base64 of an API key) counts as a credential itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re

from gclog.privacy.build import mixed, rule
from gclog.privacy.runs import run_starts
from gclog.privacy.scrubber import Rule, Scrubber

_B64 = "A-Za-z0-9+/"
_PRINTABLE = re.compile(r"[\t\n\r\x20-\x7e\u00a0-\uffff]{4,}")
_USER_PASSWORD = re.compile(r"[^\s:]{1,128}:[^\s:]{6,256}")
_KEYLIKE = re.compile(r"[A-Za-z0-9+/=_.~-]{20,256}")
_SEED_PADDING = 2  # gclog/ship/credentials.py: the junk character's index


@functools.cache
def _inner() -> Scrubber:
    from gclog.privacy.formats import FORMAT_RULES
    from gclog.privacy.named import NAMED_RULES

    return Scrubber(FORMAT_RULES + NAMED_RULES)


def decode(segment: str) -> str | None:
    """The text a base64 segment stands for, or None (not base64, not text)."""
    if len(segment) % 4:
        return None
    try:
        text = base64.b64decode(segment, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if _PRINTABLE.fullmatch(text) else None


def holds_secret(text: str, depth: int = 1) -> bool:
    """Decoded text that is, or holds, a credential (also base64 in it: .dockerconfigjson)."""
    stripped = text.strip()
    if _USER_PASSWORD.fullmatch(stripped):
        return True  # user:password (Docker's "auth", HTTP Basic)
    if _KEYLIKE.fullmatch(stripped) and mixed(stripped) and any(c.isdigit() for c in stripped):
        return True  # a key on its own
    inner = _inner()
    if inner.find(text):
        return True
    if len(stripped) > _SEED_PADDING + 8:
        unpadded = stripped[:_SEED_PADDING] + stripped[_SEED_PADDING + 1 :]
        if inner.find(unpadded):
            return True
    if depth > 0:
        for match in ENCODED_RULES[0].pattern.finditer(text):
            decoded = decode(match.group())
            if decoded is not None and holds_secret(decoded, depth - 1):
                return True
    return False


_UPPER = re.compile("[A-Z]")


def _encoded_secret(match: re.Match[str], secret: str) -> bool:
    if not _UPPER.search(secret):
        return False  # base64 of text always holds a capital: not a hex digest, not a word
    decoded = decode(secret)
    return decoded is not None and holds_secret(decoded)


_RUNS = run_starts(_B64, 14)


def _segment_starts(text: str) -> list[int]:
    """Where the rule's pattern can start: a run of 14+, or one character in after a backslash
    (``\\nQUJD…``: the ``n`` is an escaped line break, not part of the segment)."""
    found: list[int] = []
    for start in _RUNS(text):
        found.append(start)
        if start and text[start - 1] == "\\":
            found.append(start + 1)
    return found


ENCODED_RULES: tuple[Rule, ...] = (
    rule(
        "encoded_secret",
        # One class, entered only at the start of a run (the lookbehind), bounded: linear.
        # Whole groups of four (the last one padded), so a run that cannot decode is never tried.
        rf"[{_B64}](?<!\\[{_B64}])(?<!(?<!\\)[{_B64}=_-][{_B64}])[{_B64}]{{3}}(?:[{_B64}]{{4}}){{2,1022}}"
        rf"(?:[{_B64}]{{4}}|[{_B64}]{{3}}=|[{_B64}]{{2}}==)(?![{_B64}=_-])",
        [],
        check=_encoded_secret,
        starts=_segment_starts,
    ),
)
