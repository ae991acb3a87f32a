"""The pipeline behind the observer, the same for every entry point.

``run``, ``attach`` and the extension all hand what they observe to a :class:`Recorder`, which
stamps the record (session envelope), passes it through the privacy filter, and commits it to the
store. Services that live as long as a session (metric samplers, the shipper) start and stop here
too, so no entry point repeats them.

When the user opted out (``GCLOG_DISABLED``, ``DO_NOT_TRACK``), the recorder still hands records to
its caller (the progress display needs them) but keeps them only in memory: no store is opened, no
identity file is made.
"""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from gclog.analytics.compile_time import compile_time
from gclog.analytics.frameworks import KernelProcess, framework_versions
from gclog.analytics.saved_cells import SavedCells
from gclog.config import Paths, Settings
from gclog.identity import Identity
from gclog.observer import Execution
from gclog.privacy.environment import environment_facts
from gclog.privacy.filter import PrivacyFilter
from gclog.privacy.optout import opt_out_reason
from gclog.records import EndReason, KernelInfo, NotebookInfo, Source
from gclog.session import Session, host_info
from gclog.store import Store

IN_MEMORY = Path(":memory:")  # SQLite's name for a database that is never written to disk


def kernel_facts(name: str | None, info: dict[str, Any]) -> KernelInfo:
    """The session_start's ``kernel`` field from a kernel_info_reply's content."""
    language = info.get("language_info") or {}
    return {
        "name": name,
        "language": language.get("name"),
        "language_version": language.get("version"),
        "implementation": info.get("implementation"),
        "implementation_version": info.get("implementation_version"),
        "protocol_version": info.get("protocol_version"),
    }


class Recorder:
    def __init__(
        self,
        source: Source,
        settings: Settings,
        paths: Paths,
        notebook_path: Path | None = None,
        saved_cells: SavedCells | None = None,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.off = opt_out_reason(settings)
        if self.off:
            self.store = Store(IN_MEMORY)
            self.identity = Identity(install_id=str(uuid.uuid4()), key=secrets.token_bytes(32))
        else:
            self.store = Store(paths.store)
            self.identity = Identity.load_or_create(paths.identity)
        self.privacy = PrivacyFilter(settings.privacy)
        self.session = Session(
            source,
            self.store,
            self.identity,
            notebook_path=notebook_path,
            record_filter=self.privacy,
        )
        if saved_cells is None and notebook_path is not None:
            saved_cells = SavedCells.from_path(notebook_path)
        self.saved_cells = saved_cells
        self.cells: list[dict[str, Any]] = []

    def start(
        self,
        kernel_name: str | None,
        kernel_info: dict[str, Any],
        notebook: NotebookInfo,
        kernel_pid: int | None = None,
    ) -> dict[str, Any]:
        kernel = KernelProcess.of(kernel_pid)
        facts = environment_facts(self.settings.env_facts, kernel.environ, self.identity)
        # Raw identifiers (host name, notebook id) must not show up in text the filter passes.
        self.privacy = PrivacyFilter(self.settings.privacy, facts.identifying_words)
        self.session.record_filter = self.privacy
        language = ((kernel_info.get("language_info") or {}).get("name") or "").lower()
        if language == "python":
            frameworks = framework_versions(kernel, self.settings.frameworks)
            versions, note = frameworks.versions, frameworks.note
        else:
            versions = dict.fromkeys(self.settings.frameworks)
            note = f"the kernel's language is {language or 'unknown'}, not Python"
        return self.session.start(
            kernel=kernel_facts(kernel_name, kernel_info),
            notebook=notebook,
            host=host_info(),
            privacy=self.settings.privacy,
            environment=facts.record,
            frameworks=versions,
            frameworks_note=note,
        )

    def cell_finished(self, execution: Execution) -> dict[str, Any]:
        fields = execution.cell_fields()
        fields["code_modified"] = (
            self.saved_cells.modified(execution.code) if self.saved_cells is not None else None
        )
        fields["compile_time_s"] = compile_time(
            str(out.get("text", ""))
            for out in execution.outputs
            if out.get("output_type") == "stream"
        )
        fields["logger_uptime_s"] = round(time.monotonic() - self.session.started, 6)
        record = self.session.cell(fields)
        self.cells.append(record)
        return record

    def kernel_event(self, **fields: Any) -> dict[str, Any]:
        return self.session.kernel_event(**fields)

    def end(self, reason: EndReason) -> dict[str, Any]:
        return self.session.end(reason)

    def close(self) -> None:
        self.session.flush()
        self.store.close()
