"""Building blocks of the rules: a rule factory, the pieces several rules share, cheap vetoes.

How a pattern is written, so that each stays fast on any input (see scrubber.py):

- it starts with a literal (``hf_``, ``://``, ``-----BEGIN``) and only *then* checks what comes
  before it, with a fixed-width lookbehind (:func:`starts`): the regex engine jumps from one
  occurrence of the literal to the next instead of trying every position;
- a rule found by a name (``password=…``, ``Authorization: …``) is a ``fold`` rule written in
  lower case, run on the lowercased text, and checks the name's left edge in Python (:func:`named`);
- every repetition is bounded, so one attempt costs at most a bounded scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from gclog.privacy.scrubber import Rule

Check = Callable[[re.Match[str], str], bool]

# -- validators: cheap vetoes that keep code and placeholders out ------------------------------------

_NULLS = frozenset(
    ("none", "null", "nil", "true", "false", "undefined", "empty", "changeme", "required")
)
_MASKS = frozenset("*x•.#-_?")
_TYPES = frozenset(("str", "bytes", "int", "any", "optional", "secretstr", "string", "dict"))
DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
# Words glued in front of a name that still make it a credential: accessToken, dbpassword, PGPASSWORD.
_GLUE = re.compile(
    r"(?:access|auth|api|refresh|bearer|session|bot|client|app|oauth|personal|private|secret|db"
    r"|admin|root|user|account|master|mail|smtp|ftp|my|pg|github|gitlab|hf|slack|wandb|npm|redis"
    r"|mysql|postgres|sendgrid|twilio|mailgun|discord|telegram|shared|subscription|sql|ldap|vnc)$"
)
# Values that look random without being secrets: a dotted name (module.attr) is code, except
# where a format's own prefix says otherwise (SendGrid's SG.….…).
_FORMAT_DOTTED = re.compile(r"SG\.[\w-]{16,32}\.[\w-]{24,64}")


_ASCII_DIGIT = re.compile("[0-9]")
_SPACE = re.compile(r"\s")  # the characters str.isspace() takes


def mixed(secret: str) -> bool:
    """Looks machine-made: letters with digits, or upper and lower case."""
    if secret.isascii():  # the same answer in C, not a Python call per character
        has_digit = _ASCII_DIGIT.search(secret) is not None
        has_upper, has_lower = secret != secret.lower(), secret != secret.upper()
    else:
        has_digit = any(c.isdigit() for c in secret)
        has_upper = any(c.isupper() for c in secret)
        has_lower = any(c.islower() for c in secret)
    return (has_digit and (has_upper or has_lower)) or (has_upper and has_lower)


def random_check(match: re.Match[str], secret: str) -> bool:
    return mixed(secret)


def named(match: re.Match[str]) -> bool:
    """The name starts a word (``HF_TOKEN``, ``x-api-key``) or follows a glue word (``accessToken``)."""
    start = match.start("name")
    before = match.string[max(0, start - 14) : start].lower()
    if not before or not before[-1].isalnum() or before[-2:-1] == "\\":
        return True  # a word starts here (after \n, an escaped line break, too)
    glued = _GLUE.search(before)
    return glued is not None and (glued.start() == 0 or not before[glued.start() - 1].isalnum())


def is_literal(match: re.Match[str], secret: str) -> bool:
    """A value written out, not code that computes one nor a placeholder for one."""
    lowered = secret.lower()
    if lowered in _NULLS or set(secret) <= _MASKS or secret[0] in "$%{<":
        return False  # None, ********, $VAR, %(name)s, {name}, <your-password>
    if secret.startswith("--"):
        return False  # --password --verbose: the next flag, not a value
    if lowered == match.group("name").lower():
        return False  # password=password: a variable passed on
    if match.group("uvalue") is not None:
        following = match.string[match.end() : match.end() + 1]
        if following in ("(", "[") or lowered in _TYPES:
            return False  # a call, a subscript, a type annotation: code
        if DOTTED_NAME.fullmatch(secret) and not _FORMAT_DOTTED.fullmatch(secret):
            return False  # an attribute: code
    return True


def _path(secret: str) -> bool:
    return secret[0] in "/~." or (len(secret) > 2 and secret[1] == ":" and secret[2] in "\\/")


def password_value(match: re.Match[str], secret: str) -> bool:
    if match.group("name").lower() == "pwd" and _path(secret):
        return False  # PWD=/home/…: the working directory in an environment dump
    return named(match) and is_literal(match, secret)


def token_value(match: re.Match[str], secret: str) -> bool:
    """Tokens and keys are long and random; ``pad_token = "[PAD]"`` is neither."""
    if len(secret) < 8 or _SPACE.search(secret):
        return False
    return named(match) and is_literal(match, secret) and mixed(secret)


def rule(
    kind: str,
    pattern: str,
    keywords: Iterable[str],
    *,
    fold: bool = False,
    groups: tuple[str, ...] = (),
    check: Check | None = None,
    flags: int = 0,
    back: int = 0,
    wraps: str = "",
    widen: str = "",
    min_back: int = 0,
    near: bool = True,
    starts: Callable[[str], Sequence[int]] | None = None,
) -> Rule:
    keywords = tuple(keywords)
    if fold:
        assert all(k == k.lower() for k in keywords), "fold rules take lower-case keywords"
    return Rule(
        kind,
        re.compile(pattern, flags),
        keywords,
        fold,
        groups,
        check,
        back,
        frozenset(wraps),
        frozenset(widen),
        min_back,
        near,
        starts,
    )


def starts(prefix: str | tuple[str, ...], before: str) -> str:
    """``prefix`` not preceded by a character of class ``before`` (the literal comes first).

    A character escaped with a backslash does not count: in ``'key:\\nhf_…'`` (a repr, JSON) the
    ``n`` before the token is a line break. Several prefixes (a tuple) each get their own check,
    so the pattern still starts with a literal.
    """
    if isinstance(prefix, tuple):
        return "(?:" + "|".join(starts(p, before) for p in prefix) + ")"
    fast = rf"{prefix}(?<!(?<!\\)[{before}]{prefix})"
    try:
        re.compile(fast)
    except re.error:  # alternatives of several lengths: check before them (a little slower)
        return rf"(?<!(?<!\\)[{before}])(?:{prefix})"
    return fast


# -- pieces shared by several rules -------------------------------------------------------------------

# A quoted value (also JSON-escaped: \"…\"), or an unquoted one that ends at a delimiter.
VALUE = (
    r"(?:[rbfu]{0,2}\\{0,4}(?P<quote>[\"'])(?!<redacted:)(?P<qvalue>[^\"'\\\r\n]{1,1024})"
    r"\\{0,4}(?P=quote)"
    r"|(?!<redacted:)(?P<uvalue>[^\s\"'`,;<>(){}\[\]\\]{1,4096}))"
)
# Between a name and its value: `=`, `:`, `:=`, `=>`; after a quoted name also `,` (setdefault).
SEPARATOR = (
    r"(?:\\{0,4}[\"']\]?[ \t]{0,8}(?:=>|:=|=(?!=)|:|,)|\]?[ \t]{0,8}(?:=>|:=|=(?!=)|:))[ \t]{0,8}"
)
B64 = r"A-Za-z0-9+/"
NEWLINE = r"(?:\\{1,4}[rn]|\s)"  # a real line break, or one written \n (JSON, escaped again)
Q = r'\\{0,4}"'  # a JSON quote, also escaped (JSON in a string, in a string)
WS = r"(?:\s|\\{1,4}[nrt]){0,8}"  # blanks, real or escaped
END = r"(?![A-Za-z0-9])"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
