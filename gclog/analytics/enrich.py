"""What the Recorder adds to records beyond what the observer saw: the seed's analytics fields.

``session_fields`` gives a session_start its environment facts (allow-listed, identifiers hashed)
and the framework versions of the kernel's environment; ``cell_fields`` gives a cell record
``code_modified``, ``compile_time_s`` and ``logger_uptime_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gclog.analytics.compile_time import compile_time
from gclog.analytics.frameworks import KernelProcess, framework_versions
from gclog.analytics.saved_cells import SavedCells
from gclog.config import Settings
from gclog.identity import Identity
from gclog.observer import Execution
from gclog.privacy.environment import environment_facts


@dataclass(frozen=True)
class SessionFields:
    fields: dict[str, Any]
    identifying_words: tuple[str, ...]  # raw identifiers the privacy filter must hide in text


def session_fields(
    settings: Settings, identity: Identity, kernel_pid: int | None, kernel_info: dict[str, Any]
) -> SessionFields:
    kernel = KernelProcess.of(kernel_pid)
    facts = environment_facts(settings.env_facts, kernel.environ, identity)
    language = ((kernel_info.get("language_info") or {}).get("name") or "").lower()
    if language == "python":
        found = framework_versions(kernel, settings.frameworks)
        versions, note = found.versions, found.note
    else:
        versions = dict.fromkeys(settings.frameworks)
        note = f"the kernel's language is {language or 'unknown'}, not Python"
    return SessionFields(
        fields={"environment": facts.record, "frameworks": versions, "frameworks_note": note},
        identifying_words=facts.identifying_words,
    )


def cell_fields(
    execution: Execution, saved: SavedCells | None, session_started: float
) -> dict[str, Any]:
    """``session_started`` is the session's start on the ``time.monotonic`` clock."""
    return {
        "code_modified": saved.modified(execution.code) if saved is not None else None,
        "compile_time_s": compile_time(
            str(out.get("text", ""))
            for out in execution.outputs
            if out.get("output_type") == "stream"
        ),
        "logger_uptime_s": round(time.monotonic() - session_started, 6),
    }
