"""One pass for every rule's keywords, so each rule reads only the text near them.

With ~150 rules, running each rule's pattern over a whole 4 MB transcript costs ~150 scans, and
a keyword test per rule (``word in text``) costs as much again where the word is absent. Instead,
one Aho-Corasick pass (``ahocorasick_rs``) finds where every keyword occurs, in the text and in its
lowercased copy; a rule then runs only in windows around its keywords' occurrences, each as wide
as the longest text the rule can match (read off its pattern) on either side. A match holds its
keyword, so it lies inside such a window; the pattern still sees the whole string (a lookbehind
reads before the window), and a match that ends too near a window's cut edge is not trusted.

A rule whose keywords are single characters, that has none, that can match without bound, or
whose keyword is context rather than part of the match (``near=False``) reads the whole text
(where one of its keywords occurs: scrubber.py tests them).
Without ``ahocorasick_rs`` installed the plain keyword tests of scrubber.py are used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

try:
    import ahocorasick_rs
except ImportError:  # pragma: no cover - an optional speed-up; scrubber.py works without it
    ahocorasick_rs = None

try:
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]


class Rule(Protocol):
    """What this module reads of a rule (scrubber.Rule, which imports this module)."""

    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    fold: bool
    back: int
    near: bool


MARGIN = 64  # past a match's end that a window must reach for the match to be trusted
MAX_REACH = 8192  # a rule that can match more than this reads the whole text
AVAILABLE = ahocorasick_rs is not None

Window = tuple[int, int]


def _widths(rule: Rule) -> tuple[int, int] | None:
    """The fewest and the most characters a match of ``rule``'s pattern can have, or None."""
    try:
        low, high = _sre_parse.parse(rule.pattern.pattern, rule.pattern.flags).getwidth()
    except Exception:
        return None
    return int(low), int(high)


def reach(rule: Rule) -> int | None:
    """The most characters around a keyword that a match of ``rule`` can cover, or None."""
    widths = _widths(rule) if rule.near else None
    if widths is None:  # any doubt: read the whole text
        return None
    total = widths[1] + rule.back
    return total if total <= MAX_REACH else None


def shortest(rule: Rule) -> int:
    """The fewest characters a match of ``rule``'s pattern can have (0 when in doubt): a text
    shorter than that holds no match, whatever its keywords."""
    widths = _widths(rule)
    return widths[0] if widths is not None else 0


class KeywordIndex:
    """Where each rule may match in a text: whole text (None), nowhere ([]), or windows."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = rules
        self.reach = [reach(rule) for rule in rules]
        self.whole = frozenset(
            rank
            for rank, rule in enumerate(rules)
            if self.reach[rank] is None
            or not rule.keywords
            or any(len(word) < 2 for word in rule.keywords)
        )
        plain: dict[str, list[int]] = {}
        folded: dict[str, list[int]] = {}
        for rank, rule in enumerate(rules):
            if rank in self.whole:
                continue
            for word in rule.keywords:
                (folded if rule.fold else plain).setdefault(word, []).append(rank)
        self._plain_words = list(plain)
        self._plain_rules = [plain[w] for w in self._plain_words]
        self._folded_words = list(folded)
        self._folded_rules = [folded[w] for w in self._folded_words]
        self._plain = automaton(self._plain_words)
        self._folded = automaton(self._folded_words)

    def present(self, text: str, folded: str) -> set[int]:
        """The rules (not reading the whole text) one of whose keywords occurs."""
        ranks: set[int] = set()
        for finder, rules, subject in (
            (self._plain, self._plain_rules, text),
            (self._folded, self._folded_rules, folded),
        ):
            if finder is not None:
                for word in occurrences(finder, subject):
                    ranks.update(rules[word[0]])
        return ranks

    def windows(self, text: str, folded: str) -> list[list[Window] | None]:
        """For each rule, in rank order: None (read it all), or the windows to read."""
        hits: list[list[int]] = [[] for _ in self.rules]
        for finder, rules, subject in (
            (self._plain, self._plain_rules, text),
            (self._folded, self._folded_rules, folded),
        ):
            if finder is None:
                continue
            for word, start, _ in occurrences(finder, subject):
                for rank in rules[word]:
                    hits[rank].append(start)
        out: list[list[Window] | None] = []
        for rank in range(len(self.rules)):
            if rank in self.whole:
                out.append(None)
            else:
                out.append(_merge(sorted(hits[rank]), self.reach[rank] or 0, len(text)))
        return out


KEPT_FROM = 4096  # shorter texts encode in microseconds: not worth keeping
_recent: tuple[tuple[str, bytes], ...] = ()


def latin1(text: str) -> bytes:
    """``text`` one byte a character: latin-1, any other character as "?", so positions stay.

    The last two long texts' bytes are kept (a scrub's text and its lowercased copy): the index
    and each start finder of runs.py read the same text, and encoding 4 MB costs ~8 ms. Kept by
    identity, so a stale entry is never used; ``forget`` lets them go when a scrub ends.
    """
    global _recent
    recent = _recent  # one read: another thread may replace it
    for kept, data in recent:
        if kept is text:
            return data
    data = text.encode("latin-1", "replace")
    if len(text) >= KEPT_FROM:
        _recent = ((text, data), *recent[:1])
    return data


def forget() -> None:
    global _recent
    _recent = ()


def automaton(words: list[str]) -> Any:
    if not words or ahocorasick_rs is None:
        return None
    try:
        encoded = [word.encode("latin-1") for word in words]
    except UnicodeEncodeError:
        return ahocorasick_rs.AhoCorasick(words)
    if any(b"?" in word for word in encoded):  # "?" stands for the characters latin-1 lacks
        return ahocorasick_rs.AhoCorasick(words)
    return ahocorasick_rs.BytesAhoCorasick(encoded)


def occurrences(finder: Any, subject: str) -> list[tuple[int, int, int]]:
    """(keyword, start, end) of every occurrence, overlapping ones too.

    Over bytes where the keywords allow: the text in latin-1, one byte a character (any other
    character as "?", in no keyword), so positions need no translating back from UTF-8 (half
    the cost of a pass on a text with a character beyond ASCII), and a lone surrogate is read.
    """
    if isinstance(finder, ahocorasick_rs.BytesAhoCorasick):
        return finder.find_matches_as_indexes(latin1(subject), overlapping=True)  # type: ignore[no-any-return]
    return finder.find_matches_as_indexes(subject, overlapping=True)  # type: ignore[no-any-return]


def _merge(positions: list[int], width: int, length: int) -> list[Window]:
    windows: list[Window] = []
    for position in positions:
        low = max(0, position - width)
        high = min(length, position + width + MARGIN)
        if windows and low <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], high))
        else:
            windows.append((low, high))
    return windows
