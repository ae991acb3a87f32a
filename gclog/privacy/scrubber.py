"""The scrubbing engine: compiled rules find secrets as spans; each span becomes ``<redacted:KIND>``.

Hand-written rules instead of a library (DESIGN.md §5): detect-secrets scans ~4 s/MB and flags base64
as secrets. Three habits keep every rule fast on any input, hostile or not:

- a cheap pre-filter: a rule runs only if one of its literal keywords occurs in the text;
- a left boundary (a lookbehind on the token's own alphabet), so a failed attempt is not retried at
  every position inside the same run of characters;
- bounded quantifiers only (``{1,256}``, never ``+``/``*`` over a class that can overlap), so one
  attempt costs at most a bounded scan and nothing backtracks catastrophically.
"""

from __future__ import annotations

import bisect
import functools
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from gclog.privacy.windows import AVAILABLE, KEPT_FROM, MARGIN, KeywordIndex, forget, shortest

REDACTED = "<redacted:{kind}>"
# What a redaction looks like; rules refuse to match one, so scrubbing twice changes nothing.
REDACTION = re.compile(r"<redacted:[a-z0-9_]{1,40}>")


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str
    # Each token character the secret runs straight on to was read by the secret's own match
    # (``bot`` before a Telegram token, ``-p`` before a MySQL password): its redaction holds no
    # other rule back (see Scrubber.find). False where unknown (a joined or mapped span).
    framed: bool = field(default=False, compare=False)


def fold(text: str) -> str:
    """``text`` with its ASCII letters lowercased, every character where it was: what ``fold``
    rules read (they are written in ASCII).

    ``str.lower`` costs ~10 ns a character on a text beyond ASCII and can move positions ("İ"
    lowers to two characters). Lowercasing the text's UTF-16 (or UTF-32) bytes as ASCII instead
    folds every ASCII letter exactly, leaves each other character beyond ASCII (a code unit byte in
    A-Z becomes one in a-z: "Ł" reads "š") and makes or loses no blank, three times faster.
    """
    if text.isascii():
        return text.lower()
    data = text.encode("utf-16-le", "surrogatepass")
    if len(data) == 2 * len(text):  # no character beyond the BMP: one code unit each
        return data.lower().decode("utf-16-le", "surrogatepass")
    wide = text.encode("utf-32-le", "surrogatepass").lower()
    return wide.decode("utf-32-le", "surrogatepass")


@functools.cache
def _ignoring_case(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern, pattern.flags | re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """One kind of secret.

        ``keywords`` are literals of which at least one must occur in the text for the (costlier)
        pattern to run. A ``fold`` rule is written in lower case and runs on the lowercased text (the
        regex engine scans literal prefixes much faster than case-insensitive ones); its keywords are
        lower case too. ``groups`` name the part of a match that is secret (the first group that took
        part; the whole match when none is named). ``check`` sees the match and the secret as written
        and can veto it (a placeholder, code). ``back`` widens the secret to that many characters
        before the match (checked by a fixed-width lookbehind: the pattern still starts with its
        literal); with ``widen``, it takes up to ``back`` characters of ``widen`` before the match,
    and at least ``min_back`` (a pattern that starts with its rarest literal, ``@`` or ``:``, and
    reaches back in Python instead of starting with a character class tried at every position). A
    rule with ``wraps`` also takes the rest of a token that a table or a narrow
        display wrapped onto the following lines, at the same column (characters of ``wraps``).
        ``starts`` gives, for the text the pattern reads, sorted places where a match may start (all
        of them, and maybe more; see runs.py): the pattern is then tried only there, anchored, as
        ``finditer`` would find it (a match never starts inside the previous one).
    """

    kind: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    fold: bool = False
    groups: tuple[str, ...] = ()
    check: Callable[[re.Match[str], str], bool] | None = None
    back: int = 0
    wraps: frozenset[str] = frozenset()
    widen: frozenset[str] = frozenset()
    min_back: int = 0
    near: bool = True  # a match holds one of the keywords (windows.py reads only near them)
    starts: Callable[[str], Sequence[int]] | None = None

    def findings(
        self, text: str, folded: str, windows: Sequence[tuple[int, int]] | None = None
    ) -> Iterator[Finding]:
        """Findings in the whole text, or in ``windows`` of it (see windows.py)."""
        subject, pattern = text, self.pattern
        if self.fold:
            if len(folded) == len(text):
                subject = folded
            else:  # a caller's own folding changed the length ("İ"): positions would shift
                pattern = _ignoring_case(pattern)
        matches = (
            _matches(pattern, subject, windows)
            if self.starts is None
            else _anchored(pattern, subject, windows, self.starts(subject))
        )
        groups, widen, back, check, kind = self.groups, self.widen, self.back, self.check, self.kind
        for match in matches:
            start, end = whole_start, whole_end = match.span()
            for name in groups:
                if match.group(name) is not None:
                    start, end = match.span(name)
                    break
            if widen:
                floor = max(0, start - back)
                first = start
                while first > floor and subject[first - 1] in widen:
                    first -= 1
                if start - first < self.min_back:
                    continue
                start = first
            elif back:
                start = max(0, start - back)
            if start == end:
                continue
            secret = text[start:end]
            if secret[0] == "<" and REDACTION.fullmatch(secret):
                continue
            if check is not None and not check(match, secret):
                continue
            framed = not (
                (start <= whole_start and _joins(text, start))
                or (end >= whole_end and _joins(text, end))
            )
            yield Finding(start, end, kind, framed)
            if self.wraps:
                for piece in _wrapped(text, start, end, self.wraps):
                    yield Finding(*piece, kind)


def _matches(
    pattern: re.Pattern[str], subject: str, windows: Sequence[tuple[int, int]] | None
) -> Iterator[re.Match[str]]:
    if windows is None:
        yield from pattern.finditer(subject)
        return
    length = len(subject)
    for low, high in windows:
        for match in pattern.finditer(subject, low, high):
            if high == length or match.end() + MARGIN <= high:
                yield match  # else it may have been cut by the window's edge: not trusted


def _anchored(
    pattern: re.Pattern[str],
    subject: str,
    windows: Sequence[tuple[int, int]] | None,
    starts: Sequence[int],
) -> Iterator[re.Match[str]]:
    """What ``_matches`` finds, trying the pattern only at ``starts``."""
    length = len(subject)
    for low, high in [(0, length)] if windows is None else windows:
        end = low
        for start in starts[bisect.bisect_left(starts, low) : bisect.bisect_left(starts, high)]:
            if start < end:
                continue  # inside the last match: finditer goes on after it
            match = pattern.match(subject, start, high)
            if match is None:
                continue
            end = max(match.end(), start + 1)
            if high == length or match.end() + MARGIN <= high:
                yield match


_CELL_EDGES = " \t\r│┃|║"  # what stands between a table cell's text and the next cell


def _wrapped(text: str, start: int, end: int, chars: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Pieces of a token continued on the next lines, in its column (a rich table, a pager).

    Taken only where the token ends its cell (nothing but blanks and a rule after it) and the
    next line holds, at the token's column and after a blank or a rule, a run of its alphabet that
    ends that line's cell in turn: ``GITHUB_TOKEN=ghp_…`` above ``GITHUB_REPO=…`` is left alone.
    """
    column = start - (text.rfind("\n", 0, start) + 1)
    pos = end
    for _ in range(16):
        eol = text.find("\n", pos)
        if eol < 0 or text[pos:eol].strip(_CELL_EDGES):
            return
        line = eol + 1
        line_end = text.find("\n", line)
        line_end = len(text) if line_end < 0 else line_end
        first = line + column
        if first >= line_end or text[first] not in chars:
            return
        if first > line and text[first - 1] not in _CELL_EDGES:
            return
        last = first
        while last < line_end and text[last] in chars:
            last += 1
        if text[last:line_end].strip(_CELL_EDGES):
            return
        yield first, last
        pos = last


def merge(findings: Iterable[tuple[int, Finding]]) -> list[Finding]:
    """Sorted, non-overlapping spans; overlapping ones are joined so no fragment is left behind.

    Each finding comes with its rule's rank (lower wins): the joined span takes the kind of the
    best-ranked rule that covered it, so ``token=ghp_…`` reads ``<redacted:github_token>``.
    """
    ordered = sorted(findings, key=lambda item: (item[1].start, -item[1].end, item[0]))
    merged: list[tuple[int, Finding]] = []
    for rank, finding in ordered:
        if merged and finding.start < merged[-1][1].end:
            best_rank, best = merged[-1]
            if finding.end <= best.end and best_rank <= rank:
                continue  # inside a span already named by a better rule: kept as it is
            kind = best.kind if best_rank <= rank else finding.kind
            merged[-1] = (
                min(best_rank, rank),
                Finding(best.start, max(best.end, finding.end), kind),
            )
        else:
            merged.append((rank, finding))
    return [finding for _, finding in merged]


WINDOWED_FROM = 4096  # shorter texts: a keyword test per rule costs less than the index
NEAR = 512  # how far a redaction can change what a rule sees (then to the ends of those lines)
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "_-")


def _joins(text: str, place: int) -> bool:
    """Token characters on both sides of ``place``: a boundary there holds a rule back."""
    return 0 < place < len(text) and text[place - 1] in _TOKEN_CHARS and text[place] in _TOKEN_CHARS


def _touches_token(text: str, finding: Finding) -> bool:
    """A token runs straight on from the secret's edge, outside the match that found it: the
    rule of that token may have been held back by the secret."""
    return not finding.framed and (_joins(text, finding.start) or _joins(text, finding.end))


# (start in the redacted text, end there, start in the original, end there) of each redaction
_Span = tuple[int, int, int, int]


def _replace_mapped(text: str, findings: Sequence[Finding]) -> tuple[str, list[_Span]]:
    parts: list[str] = []
    spans: list[_Span] = []
    pos = length = 0
    for finding in findings:
        parts.append(text[pos : finding.start])
        length += finding.start - pos
        redaction = REDACTED.format(kind=finding.kind)
        spans.append((length, length + len(redaction), finding.start, finding.end))
        parts.append(redaction)
        length += len(redaction)
        pos = finding.end
    parts.append(text[pos:])
    return "".join(parts), spans


def _map_back(finding: Finding, spans: Sequence[_Span], starts: Sequence[int]) -> Finding:
    """A span of the redacted text as a span of the original; a redaction it touches is taken in."""

    def original(char: int) -> tuple[int, int]:
        """Where a character of the redacted text came from (a whole secret, for a redaction)."""
        i = bisect.bisect_right(starts, char) - 1
        if i < 0:
            return char, char + 1
        _, new_end, old_start, old_end = spans[i]
        if char < new_end:
            return old_start, old_end
        return old_end + (char - new_end), old_end + (char - new_end) + 1

    return Finding(original(finding.start)[0], original(finding.end - 1)[1], finding.kind)


def replace(text: str, findings: Sequence[Finding]) -> str:
    if not findings:
        return text
    parts: list[str] = []
    pos = 0
    for finding in findings:
        parts.append(text[pos : finding.start])
        parts.append(REDACTED.format(kind=finding.kind))
        pos = finding.end
    parts.append(text[pos:])
    return "".join(parts)


_Keywords = tuple[tuple[str, tuple[int, ...]], ...]  # each keyword, with the rules it lets run


def _keywords_in(text: str, folded: str, plain: _Keywords, folded_words: _Keywords) -> set[int]:
    """The rules one of whose keywords occurs (``folded_words`` in the lowercased text)."""
    ranks: set[int] = set()
    for word, rules in plain:
        if word in text:
            ranks.update(rules)
    for word, rules in folded_words:
        if word in folded:
            ranks.update(rules)
    return ranks


class Scrubber:
    """A compiled rule set. ``find`` returns spans; ``scrub`` replaces them."""

    def __init__(self, rules: Sequence[Rule], prefilter: bool = True) -> None:
        self.rules = tuple(rules)
        self.prefilter = prefilter  # off only to measure what the keywords save (bench)
        self.kinds = tuple(dict.fromkeys(rule.kind for rule in self.rules))
        self._folds = any(rule.fold for rule in self.rules)
        # Each keyword once, with the rules it lets run: one pass of `in` tests per text, not a
        # generator per rule (most texts in a record are short and match no keyword at all).
        always = [rank for rank, rule in enumerate(self.rules) if not rule.keywords]
        index: dict[tuple[str, bool], list[int]] = {}
        for rank, rule in enumerate(self.rules):
            for word in rule.keywords:
                index.setdefault((word, rule.fold), []).append(rank)
        self._always = frozenset(always)
        # Short texts (most of a record's) skip the rules that need more characters than they
        # have: of the rules with no keywords, only two can match fewer than 16 characters.
        self._shortest = tuple(shortest(rule) for rule in self.rules)
        self._plain = tuple((w, tuple(r)) for (w, fold), r in index.items() if not fold)
        self._folded = tuple((w, tuple(r)) for (w, fold), r in index.items() if fold)
        self._index = KeywordIndex(self.rules) if AVAILABLE else None
        whole = self._index.whole if self._index is not None else frozenset()
        # Rules the index does not know (they read the whole text): keyword tests as before.
        self._whole_plain = tuple(
            (w, kept) for w, ranks in self._plain if (kept := tuple(r for r in ranks if r in whole))
        )
        self._whole_folded = tuple(
            (w, kept)
            for w, ranks in self._folded
            if (kept := tuple(r for r in ranks if r in whole))
        )

    def _applicable(self, text: str, folded: str) -> set[int]:
        """The rules that may match: no keywords, or one of theirs occurs."""
        if self._index is not None:  # one pass for the keywords the index knows
            try:
                return self._index.present(text, folded) | self._whole_applicable(text, folded)
            except UnicodeEncodeError:  # a lone surrogate: no Rust string holds it
                pass
        return _keywords_in(text, folded, self._plain, self._folded) | self._always

    def _whole_applicable(self, text: str, folded: str) -> set[int]:
        """The rules the index does not know that may match: no keywords, or one occurs."""
        return _keywords_in(text, folded, self._whole_plain, self._whole_folded) | self._always

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping spans to redact, such that scrubbing the result finds nothing more."""
        try:
            return self._find(text)
        finally:
            if len(text) >= KEPT_FROM:  # not a short text's scrub inside it (encoded.py's)
                forget()  # the text's bytes, kept while its rules read it (windows.latin1)

    def _find(self, text: str) -> list[Finding]:
        findings = self._find_once(text)
        # A redaction changes what its neighbours see: "-----BEGIN…-----eyJ…" hides a JWT behind
        # a character of its own alphabet until the key is replaced. Where a redaction touches
        # such a character, look again at the text as redacted near there (whole lines around
        # it), and map what is new back.
        for _ in range(3):
            touching = [i for i, f in enumerate(findings) if _touches_token(text, f)]
            if not touching:
                break
            redacted, spans = _replace_mapped(text, findings)
            starts = [span[0] for span in spans]
            new = [
                _map_back(f, spans, starts)
                for f in self._find_near(redacted, [spans[i][:2] for i in touching])
                if not REDACTION.fullmatch(redacted[f.start : f.end])
            ]
            if not new:
                break
            findings = merge([(0, f) for f in findings] + [(1, f) for f in new])
        return findings

    def _find_near(self, text: str, places: Sequence[tuple[int, int]]) -> list[Finding]:
        """Findings in the whole lines within ``NEAR`` characters of each place."""
        windows: list[list[int]] = []
        for start, end in places:
            low = text.rfind("\n", 0, max(0, start - NEAR)) + 1
            high = text.find("\n", min(len(text), end + NEAR))
            high = len(text) if high < 0 else high
            if windows and low <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], high)
            else:
                windows.append([low, high])
        found: list[Finding] = []
        for low, high in windows:
            found += [
                Finding(f.start + low, f.end + low, f.kind)
                for f in self._find_once(text[low:high], indexed=False)
            ]
        return found

    def _find_once(self, text: str, indexed: bool = True) -> list[Finding]:
        if not text:
            return []
        folded = fold(text) if self._folds else text
        found: list[tuple[int, Finding]] = []
        if (
            self.prefilter
            and indexed
            and self._index is not None
            and len(text) >= WINDOWED_FROM
            and len(folded) == len(text)
        ):
            try:
                every = self._index.windows(text, folded)
            except UnicodeEncodeError:  # a lone surrogate: no Rust string holds it
                every = None
            if every is not None:
                # A rule read whole still needs one of its keywords (some are context: near=False)
                whole = self._whole_applicable(text, folded)
                for rank, (rule, windows) in enumerate(zip(self.rules, every, strict=True)):
                    if (windows is None and rank in whole) or windows:
                        found.extend((rank, f) for f in rule.findings(text, folded, windows))
                return merge(found)
        rules, fewest, size = self.rules, self._shortest, len(text)
        wanted = sorted(self._applicable(text, folded)) if self.prefilter else range(len(rules))
        for rank in wanted:
            if fewest[rank] <= size:
                found.extend((rank, finding) for finding in rules[rank].findings(text, folded))
        return merge(found)

    def scrub(self, text: str) -> str:
        return replace(text, self.find(text))

    def scrub_counted(self, text: str) -> tuple[str, Counter[str]]:
        findings = self.find(text)
        return replace(text, findings), Counter(f.kind for f in findings)
