"""Where long runs of one alphabet start, found by ``bytes.find`` instead of the regex engine.

A pattern that begins with a character class (base64, digits) is tried by the regex engine at
every character of that class; in a 4 MB transcript, mostly letters and digits, that costs
~0.1 s a rule even when nothing matches. Here the text is mapped to bytes once (``latin-1``, any
other character replaced by ``?``, one byte per character, so positions stay), each byte of the
alphabet to ``a`` and every other one to a blank; ``bytes.find`` of ``a`` times the shortest run
then jumps from one run that is long enough to the next. A rule given these starts
(``Rule.starts``) tries its pattern only there, anchored (see scrubber.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_IN, _OUT = ord("a"), ord(" ")


def run_starts(alphabet: str, shortest: int) -> Callable[[str], list[int]]:
    """Where each maximal run of ``shortest`` or more characters of ``alphabet`` starts.

    ``alphabet`` is written as inside a regex class (``A-Za-z0-9+/``), as the rule's pattern has
    it, and must hold ASCII characters only (the others all become blanks).
    """
    assert shortest >= 1
    member = re.compile(f"[{alphabet}]")
    assert not any(member.match(chr(code)) for code in range(128, 256)), alphabet
    table = bytes(_IN if member.match(chr(code)) else _OUT for code in range(256))
    needle, blank = bytes([_IN]) * shortest, bytes([_OUT])

    def starts(text: str) -> list[int]:
        marks = text.encode("latin-1", "replace").translate(table)
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
