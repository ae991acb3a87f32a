"""Where a rule's match can start, found by ``find`` instead of the regex engine (``Rule.starts``).

A pattern that begins with a character class (base64) is tried by the regex engine at every
character of that class; in a 4 MB transcript, mostly letters and digits, that costs ~0.1 s a
rule even where nothing matches. Instead, the text is mapped to bytes (``latin-1``, any other
character replaced by ``?``, one byte per character, so positions stay) and each character class
to one mark byte (everything else to a blank), and ``bytes.find`` jumps from one place the
pattern needs to the next: a run of ``shortest`` marks, or a short sequence of marks (``(ddd)``:
a parenthesis, three digits, a parenthesis); or one Aho-Corasick pass finds where any of the
words a pattern starts with occurs. Each function returns every place a match can start
(and some where it cannot: the pattern decides, tried there anchored; see scrubber.py). It pays
where such places are rare; where they are common (every float's dot, every digit group) the
call per place costs more than the regex engine's own scan, and a rule does without.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from gclog.privacy.windows import AVAILABLE, automaton, latin1, occurrences

Starts = Callable[[str], list[int]]

_BLANK = ord(" ")


def _table(marks: dict[str, str]) -> bytes:
    """A ``bytes.translate`` table: each byte of a class (written as inside a regex class,
    ASCII only) to its mark, every other byte to a blank."""
    table = bytearray([_BLANK]) * 256
    for mark, alphabet in marks.items():
        assert len(mark) == 1 and mark != " "
        member = re.compile(f"[{alphabet}]")
        assert not any(member.match(chr(code)) for code in range(128, 256)), alphabet
        for code in range(128):
            if member.match(chr(code)):
                table[code] = ord(mark)
    return bytes(table)


def _marked(text: str, table: bytes) -> bytes:
    return latin1(text).translate(table)


def run_starts(alphabet: str, shortest: int) -> Starts:
    """Where each maximal run of ``shortest`` or more characters of ``alphabet`` starts."""
    assert shortest >= 1
    table = _table({"a": alphabet})
    needle, blank = b"a" * shortest, b" "

    def starts(text: str) -> list[int]:
        marks = _marked(text, table)
        found: list[int] = []
        # find returns the leftmost place: the start of a run (an earlier start would be found)
        pos = marks.find(needle)
        while pos >= 0:
            found.append(pos)
            end = marks.find(blank, pos + shortest)
            if end < 0:
                break
            pos = marks.find(needle, end)
        return found

    return starts


def sequence_starts(marks: dict[str, str], needles: Iterable[str], lead: int = 0) -> Starts:
    """Where any of ``needles``, sequences of marks (``marks`` maps each to its class), occurs;
    the first ``lead`` marks of a needle stand before the match (a blank: none of the classes,
    as before the text's first character)."""
    table = _table(marks)
    encoded = [needle.encode() for needle in needles]
    padding = b" " * lead

    def starts(text: str) -> list[int]:
        marked = padding + _marked(text, table) if lead else _marked(text, table)
        found: list[int] = []
        for needle in encoded:
            pos = marked.find(needle)
            while pos >= 0:
                found.append(pos)
                pos = marked.find(needle, pos + 1)  # overlapping ones too: each is a place to try
        return sorted(set(found)) if len(encoded) > 1 else found

    return starts


def word_starts(words: Iterable[str]) -> Starts:
    """Where any of ``words`` occurs (in the text the pattern reads: lowercased for a ``fold``
    rule); without ahocorasick_rs, ``str.find`` of each word in turn (slower than the regex)."""
    unique = tuple(dict.fromkeys(words))
    finder = automaton(list(unique)) if AVAILABLE else None

    def starts(text: str) -> list[int]:
        if finder is not None:
            try:
                return sorted({start for _, start, _ in occurrences(finder, text)})
            except UnicodeEncodeError:  # a lone surrogate, and a word beyond latin-1: no bytes
                pass
        found: list[int] = []
        for word in unique:
            pos = text.find(word)
            while pos >= 0:
                found.append(pos)
                pos = text.find(word, pos + 1)
        return sorted(set(found))

    return starts
