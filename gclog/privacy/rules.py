"""The rule sets: secrets (every level), personal data (``redacted``), binary blobs (every level).

formats.py holds the token formats, named.py the secrets found by a name, encoded.py base64 that
decodes to a credential, personal.py personal data; build.py how a rule is written. The order is
the precedence: where two rules cover the same text, the earlier one names it. The longest text a
secret rule can match is ``MAX_SECRET_CHARS`` (a test reads it off the patterns); excerpt.py relies
on it to cut long texts without cutting through a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gclog.privacy.build import rule, starts
from gclog.privacy.encoded import ENCODED_RULES
from gclog.privacy.formats import FORMAT_RULES
from gclog.privacy.named import NAMED_RULES
from gclog.privacy.personal import PERSONAL_RULES
from gclog.privacy.runs import run_starts
from gclog.privacy.scrubber import Rule, Scrubber

MAX_SECRET_CHARS = 24 * 1024

SECRET_RULES: tuple[Rule, ...] = FORMAT_RULES + NAMED_RULES + ENCODED_RULES

# -- binary blobs: base64 or hex runs of 256+ characters (an image printed as text) ------------------

_BLOB = r"A-Za-z0-9+/_-"
BLOB_RULES: tuple[Rule, ...] = (
    rule(
        "base64",
        # Unbounded on purpose, and still linear: one character class, entered only at the start
        # of a run. A digit and a letter are asked for, so "-----" rulers are left alone.
        rf"[{_BLOB}](?<![{_BLOB}][{_BLOB}])[{_BLOB}]{{255,}}={{0,2}}",
        [],  # no keyword: its pattern is one character class, tried only where a run is long
        check=lambda m, s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s),
        starts=run_starts(_BLOB, 256),
    ),
)

__all__ = [
    "BLOB_RULES",
    "MAX_SECRET_CHARS",
    "PERSONAL_RULES",
    "SECRET_RULES",
    "literal_rule",
    "personal_scrubber",
    "secret_scrubber",
]


def literal_rule(kind: str, terms: Iterable[str]) -> Rule | None:
    """Exact words known to identify this machine or notebook (its host name, notebook id)."""
    words = sorted({t for t in terms if len(t) >= 4}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(starts(re.escape(w), r"\w.-") for w in words)
    return rule(kind, rf"(?:{alternatives})(?![\w-])", words)


def secret_scrubber() -> Scrubber:
    """Secrets and blobs: what every privacy level removes."""
    return Scrubber(SECRET_RULES + BLOB_RULES)


def personal_scrubber(identifiers: Iterable[str] = ()) -> Scrubber:
    """Secrets, personal data (and the given identifying words), blobs: the `redacted` level."""
    extra = literal_rule("identifier", identifiers)
    personal = PERSONAL_RULES + ((extra,) if extra else ())
    return Scrubber(SECRET_RULES + personal + BLOB_RULES)
