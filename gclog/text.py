"""Small text helpers shared across the stages: ANSI codes, cutting, labels, ids by prefix."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gclog.errors import GclogError

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


def first_line(code: str | None, width: int = 60) -> str:
    """The first non-blank line of ``code``, cut to ``width`` characters (for one-line views)."""
    line = next((ln.strip() for ln in (code or "").splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def cell_label(index: int | None) -> str:
    """Cells are numbered from 1 for people; records keep nbformat's 0-based index."""
    return "cell ?" if index is None else f"cell {index + 1}"


def by_prefix(wanted: str, ids: Iterable[str], noun: str, where: str = "", listed: int = 0) -> str:
    """The id that is ``wanted`` or the only one that starts with it (kernels, sessions).

    GclogError when none does (``where`` says where we looked) or when several do (the first
    ``listed`` of them are named).
    """
    matches = sorted(i for i in set(ids) if i.startswith(wanted))
    if wanted in matches:
        return wanted
    if not matches:
        raise GclogError(f"no {noun} matches {wanted!r}{where}")
    if len(matches) > 1:
        shown = ""
        if listed:
            more = "…" if len(matches) > listed else ""
            shown = f" ({', '.join(matches[:listed])}{more})"
        raise GclogError(f"{wanted!r} matches {len(matches)} {noun}s{shown}; give more of the id")
    return matches[0]
