"""Compile time parsed from what a cell printed.

Graphcore's IPU frameworks print a tqdm bar while the graph compiles, and its last render says how
long it took: ``Graph compilation: 100%|██████████| 100/100 [02:13<00:00]``. JAX logs
``Finished XLA compilation of jit(f) in 0.52 sec`` under ``jax_log_compiles``. Each parser is one
entry of ``PARSERS``; a new framework's format is one more entry.

A progress bar is redrawn on one line with carriage returns, so only the last 100% render of a line
counts; separate lines are separate compilations and add up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CompileTimeParser:
    name: str
    keyword: str  # must occur in the text for the pattern to run
    pattern: re.Pattern[str]
    seconds: Callable[[re.Match[str]], float]


def clock_seconds(clock: str) -> float:
    """tqdm's elapsed time, ``mm:ss`` or ``h:mm:ss``, in seconds."""
    total = 0
    for part in clock.split(":"):
        total = total * 60 + int(part)
    return float(total)


PARSERS: tuple[CompileTimeParser, ...] = (
    CompileTimeParser(
        name="ipu_progress_bar",
        keyword="Graph compilation: 100%",
        pattern=re.compile(
            r"Graph compilation: 100%\|[^|\r\n]{0,200}\|[^\[\r\n]{0,100}"
            r"\[(?P<clock>[0-9]{1,4}(?::[0-9]{2}){1,2})<00:00"
        ),
        seconds=lambda m: clock_seconds(m.group("clock")),
    ),
    CompileTimeParser(
        name="jax_log_compiles",
        keyword="compilation of",
        pattern=re.compile(
            r"Finished (?:XLA )?compilation of [^\r\n]{1,300}? in "
            r"(?P<seconds>[0-9]{1,9}(?:\.[0-9]{1,9})?) ?s(?:ec)?"
        ),
        seconds=lambda m: float(m.group("seconds")),
    ),
)


def compile_time(
    texts: Iterable[str], parsers: Iterable[CompileTimeParser] = PARSERS
) -> float | None:
    """Seconds spent compiling according to ``texts`` (a cell's streams), or None if none said."""
    texts = [t for t in texts if t]
    total: float | None = None
    for parser in parsers:
        for text in texts:
            if parser.keyword not in text:
                continue
            last_on_line: dict[int, re.Match[str]] = {}
            for match in parser.pattern.finditer(text):
                line = text.rfind("\n", 0, match.start())
                last_on_line[line] = match
            for match in last_on_line.values():
                total = (total or 0.0) + parser.seconds(match)
    return total
