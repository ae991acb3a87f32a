"""The notice people see before gclog records anything: what it collects and how to stop it.

It keeps the seed's promise in gclog's own words: progression through the notebook, the notebook's
cells, code and outputs, and environment details are collected, and anonymised before they are
stored or sent. :func:`announce` is what an entry point calls as recording starts: ``gclog run``
shows the notice once per install (and again if its version changes); ``attach`` is meant to do
the same, and the extension to show it every time it loads, in the cell, as the seed did.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

from gclog.config import Paths, Settings
from gclog.privacy.optout import opt_out_line, opt_out_reason

DISCLOSURE_VERSION = 2  # 2: notebooks are known by a publisher id or fingerprint
WIDTH = 96

STOP_HINTS = {
    "run": "run gclog with GCLOG_DISABLED=1 (or DO_NOT_TRACK=1) to record nothing",
    "attach": "stop `gclog attach` (Ctrl-C) to stop recording; GCLOG_DISABLED=1 records nothing",
    "extension": "run `%unload_ext gclog` in any cell to stop recording",
}


def disclosure(level: str, stop_hint: str) -> str:
    """The notice, for privacy ``level``; ``stop_hint`` says how to stop (see ``STOP_HINTS``)."""
    if level == "metadata":
        notebook = "notebook details: the number of cells, and the size and a hash of the code "
        notebook += "that runs and of its outputs (not the code or the outputs themselves)"
    else:
        notebook = "notebook details: the number of cells, the code that runs and what it prints"
    removed = "passwords, keys and tokens are removed from code and outputs"
    if level != "full":
        removed += (
            ", and so are e-mail addresses, phone and card numbers, user and host names and IP"
            " addresses"
        )
    collected = [
        "your progression through the notebook: which cells run, when, for how long, and whether"
        " they fail",
        notebook,
        "environment details: Python and framework versions, machine size, accelerator use",
    ]
    paragraphs = [
        "gclog records how this notebook is used, to help improve it for the people who use"
        " it next. Anonymised before anything is stored or sent, it collects:",
        *(f"- {item}" for item in collected),
        f"Anonymised means: {removed}; a notebook is known by its publisher's id or a fingerprint"
        " of its code, never by its path; host and cluster ids are kept only as keyed hashes;"
        " this install is known by a random id, not by who you are.",
        f"Privacy level: {level}. `gclog privacy` lists exactly what is collected.",
        f"To stop: {stop_hint}.",
    ]
    return "\n".join(
        textwrap.fill(p, WIDTH, subsequent_indent="  " if p.startswith("- ") else "")
        for p in paragraphs
    )


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def announce(
    settings: Settings,
    paths: Paths,
    entry_point: str,
    write: Callable[[str], None] = _stderr,
    every_time: bool = False,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """What to say as recording starts: the opt-out line (and why it is off, returned), or the
    notice — once per install, or ``every_time`` (the extension, in the cell, as the seed did).

    Call it once the session is about to record, not earlier: input that fails validation gets
    its one-line error and nothing else.
    """
    off = opt_out_reason(settings, env)
    if off:
        write(opt_out_line(off))
    elif every_time:
        write(disclosure(settings.privacy, STOP_HINTS[entry_point]))
    else:
        show_disclosure_once(paths, settings.privacy, STOP_HINTS[entry_point], write)
    return off


def _marker(paths: Paths) -> Path:
    return paths.state_dir / "disclosure-shown"


def was_shown(paths: Paths) -> bool:
    try:
        return _marker(paths).read_text().strip() == str(DISCLOSURE_VERSION)
    except (OSError, ValueError):
        return False


def show_disclosure_once(
    paths: Paths, level: str, stop_hint: str, write: Callable[[str], None]
) -> bool:
    """Show the notice through ``write`` unless this install has seen this version of it."""
    if was_shown(paths):
        return False
    write(disclosure(level, stop_hint))
    try:
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        _marker(paths).write_text(f"{DISCLOSURE_VERSION}\n")
    except OSError:
        pass  # a read-only home: the notice shows again next time, which is the safe side
    return True
