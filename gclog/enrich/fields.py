"""What the Recorder adds to records beyond what the observer saw: the seed's analytics fields.

``session_fields`` gives a session_start its environment facts (allow-listed, identifiers hashed)
and the framework versions of the kernel's environment; ``host_info`` and ``kernel_facts`` the
machine and the kernel; ``cell_fields`` gives a cell record ``code_modified``,
``compile_time_s`` and ``logger_uptime_s``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from gclog.config import Settings
from gclog.enrich.compile_time import compile_time
from gclog.enrich.frameworks import KernelProcess, framework_versions
from gclog.enrich.saved_cells import SavedCells
from gclog.identity import Identity
from gclog.privacy.environment import environment_facts
from gclog.records import HostInfo, KernelInfo


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


def host_info() -> HostInfo:
    try:
        memory: int | None = int(psutil.virtual_memory().total)
    except Exception:
        memory = None
    return {
        "python": platform.python_version(),
        "platform": f"{platform.system()}-{platform.release()}-{platform.machine()}",
        "cpu_count": psutil.cpu_count(logical=True),
        "memory_total_bytes": memory,
    }


def kernel_facts(name: str | None, info: dict[str, Any]) -> KernelInfo:
    language = info.get("language_info") or {}
    return {
        "name": name,
        "language": language.get("name"),
        "language_version": language.get("version"),
        "implementation": info.get("implementation"),
        "implementation_version": info.get("implementation_version"),
        "protocol_version": info.get("protocol_version"),
    }


def cell_fields(
    code: str | None,
    outputs: Iterable[Mapping[str, Any]],
    saved: SavedCells | None,
    session_started: float,
) -> dict[str, Any]:
    """``session_started`` is the session's start on the ``time.monotonic`` clock."""
    return {
        "code_modified": saved.modified(code) if saved is not None else None,
        "compile_time_s": compile_time(
            str(out.get("text", "")) for out in outputs if out.get("output_type") == "stream"
        ),
        "logger_uptime_s": round(time.monotonic() - session_started, 6),
    }
