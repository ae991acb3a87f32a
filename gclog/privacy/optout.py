"""Opting out: ``GCLOG_DISABLED`` (or ``disabled = true`` in the config file) or ``DO_NOT_TRACK``.

Either turns gclog off entirely: nothing is recorded, nothing is sent, no state is written, and
one line says why. ``DO_NOT_TRACK`` is the cross-tool convention (consoledonottrack.com); it counts
when set to 1, true or yes.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Mapping
from pathlib import Path

from gclog.config import Settings
from gclog.identity import Identity

IN_MEMORY = Path(":memory:")  # SQLite's name for a database that is never written to disk

_YES = ("1", "true", "yes")


def opt_out_reason(settings: Settings, env: Mapping[str, str] | None = None) -> str | None:
    """Why recording is off (the setting or variable that said so), or None when it is on."""
    env = os.environ if env is None else env
    if settings.disabled:
        source = settings.origin_of("disabled")
        if source.startswith("config file "):
            return f"disabled = true in {source.removeprefix('config file ')}"
        return f"GCLOG_DISABLED={env.get('GCLOG_DISABLED', '1').strip()}"
    value = env.get("DO_NOT_TRACK", "").strip().lower()
    if value in _YES:
        return f"DO_NOT_TRACK={env['DO_NOT_TRACK'].strip()}"
    return None


def ephemeral_identity() -> Identity:
    """An identity for a session that records nothing: made in memory, never saved."""
    return Identity(install_id=str(uuid.uuid4()), key=secrets.token_bytes(32))


def opt_out_line(reason: str) -> str:
    return f"gclog: recording is off ({reason}): nothing is recorded or sent"
