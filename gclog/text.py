"""Small text helpers shared by the observer and the privacy filter."""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves) and OSC sequences (hyperlinks, titles).
_ANSI = re.compile(r"\x1b\[[0-?]{0,32}[ -/]{0,8}[@-~]|\x1b\][^\x07\x1b]{0,2048}(?:\x07|\x1b\\)")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


def cut_marker(cut: int) -> str:
    """What stands where ``cut`` characters were taken out of a text."""
    return f"\n…[gclog: {cut} characters cut]…\n"


def truncate(text: str, cap: int) -> str:
    """Keep the head and the tail of ``text`` within ``cap`` characters, marking the cut.

    The tail is kept because the interesting part of a log or traceback is usually at its end.
    The result is never longer than ``cap``, and truncating it again changes nothing.
    """
    if len(text) <= cap:
        return text
    cut = len(text) - cap
    # The marker names how much was cut; its own width is taken out of the kept text.
    for _ in range(3):
        marker = cut_marker(cut)
        keep = cap - len(marker)
        if keep < 2:
            return text[:cap]
        new_cut = len(text) - keep
        if new_cut == cut:
            break
        cut = new_cut
    head = keep // 2
    tail = keep - head
    return f"{text[:head]}{marker}{text[len(text) - tail :]}"


def one_line(exc: BaseException, cap: int = 200) -> str:
    """An exception as one short line, ``Type: first line of its message``."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:cap]}" if text else type(exc).__name__
