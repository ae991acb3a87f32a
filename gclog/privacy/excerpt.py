"""Cutting a text to a cap without ever cutting through a secret, at a cost bounded by the cap.

Cutting first and scrubbing after would leave half a secret at the cut, where no rule recognises it;
scrubbing a whole 100 MB training log first would take half a minute. So a long text is read in two
windows, its head and its tail, each ``MARGIN`` characters longer than what is kept: a secret that
straddles a window's far edge starts at most ``MAX_SECRET_CHARS`` before it, inside the margin, and
nothing of the margin is kept except whole redactions. What is kept is the text as scrubbed, head
and tail, with :func:`gclog.text.cut_marker` between them saying how much was cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from gclog.privacy.rules import MAX_SECRET_CHARS
from gclog.privacy.scrubber import REDACTED, Finding, Scrubber, replace
from gclog.text import cut_marker

MARGIN = MAX_SECRET_CHARS
MIN_CAP = 64  # room for a marker and a little text on each side


def scrub_excerpt(text: str, cap: int, scrubber: Scrubber) -> tuple[str, Counter[str]]:
    """``text`` scrubbed and cut to at most ``cap`` characters, with what was redacted, by kind."""
    if cap < MIN_CAP:
        raise ValueError(f"cap must be at least {MIN_CAP} characters")
    result, counts, was_cut = _scrub_and_cut(text, cap, scrubber)
    # A cut gives the text near it new neighbours (a token that ran on now ends a line), so a rule
    # may match there now. Scrub the (short) result again until nothing changes.
    for _ in range(3):
        if not was_cut:
            break
        result, more, was_cut = _scrub_and_cut(result, cap, scrubber)
        counts.update(more)
    return result, counts


def _scrub_and_cut(text: str, cap: int, scrubber: Scrubber) -> tuple[str, Counter[str], bool]:
    n = len(text)
    marker_room = len(cut_marker(n))
    head_budget = (cap - marker_room) // 2
    tail_budget = cap - marker_room - head_budget
    window = max(head_budget, tail_budget) + 2 * MARGIN
    if n <= 2 * window:
        findings = scrubber.find(text)
        grown = sum(len(REDACTED.format(kind=f.kind)) - (f.end - f.start) for f in findings)
        if n + grown <= cap:
            return replace(text, findings), Counter(f.kind for f in findings), False
        head, head_end, head_counts = _walk_forward(text, findings, head_budget, limit=n)
        tail, tail_start, tail_counts = _walk_backward(text, findings, tail_budget, floor=0)
    else:
        head_src = text[:window]
        head, head_end, head_counts = _walk_forward(
            head_src, scrubber.find(head_src), head_budget, limit=window - MARGIN
        )
        tail_src = text[n - window :]
        tail, tail_in_src, tail_counts = _walk_backward(
            tail_src, scrubber.find(tail_src), tail_budget, floor=MARGIN
        )
        tail_start = n - window + tail_in_src
    counts = head_counts + tail_counts
    return f"{head}{cut_marker(tail_start - head_end)}{tail}", counts, True


def _walk_forward(
    src: str, findings: Sequence[Finding], budget: int, limit: int
) -> tuple[str, int, Counter[str]]:
    """The scrubbed head of ``src``: at most ``budget`` characters, no raw text from ``limit`` on.

    Returns the text, where it stopped in ``src``, and the redactions it holds.
    """
    pieces: list[str] = []
    counts: Counter[str] = Counter()
    used = pos = 0
    for finding in [*findings, None]:
        stop = limit if finding is None else min(finding.start, limit)
        if stop > pos:
            take = min(stop - pos, budget - used)
            pieces.append(src[pos : pos + take])
            used += take
            pos += take
            if pos < stop:
                break  # out of room
        if finding is None or finding.start >= limit:
            break
        redaction = REDACTED.format(kind=finding.kind)
        if used + len(redaction) > budget:
            break
        pieces.append(redaction)
        used += len(redaction)
        pos = finding.end
        counts[finding.kind] += 1
    return "".join(pieces), pos, counts


def _walk_backward(
    src: str, findings: Sequence[Finding], budget: int, floor: int
) -> tuple[str, int, Counter[str]]:
    """The scrubbed tail of ``src``: at most ``budget`` characters, no raw text before ``floor``.

    Returns the text, where it starts in ``src``, and the redactions it holds.
    """
    pieces: list[str] = []
    counts: Counter[str] = Counter()
    used = 0
    pos = len(src)
    for finding in [*reversed(findings), None]:
        start = floor if finding is None else max(finding.end, floor)
        if pos > start:
            take = min(pos - start, budget - used)
            pieces.append(src[pos - take : pos])
            used += take
            pos -= take
            if pos > start:
                break
        if finding is None or finding.end <= floor:
            break
        redaction = REDACTED.format(kind=finding.kind)
        if used + len(redaction) > budget:
            break
        pieces.append(redaction)
        used += len(redaction)
        pos = finding.start
        counts[finding.kind] += 1
    return "".join(reversed(pieces)), pos, counts
