"""The pipeline behind the observer, the same for every entry point.

``run``, ``attach`` and the extension all hand what they observe to a :class:`Recorder`, which
stamps the record (session envelope), and commits it to the store. Services that live as long as
a session (metric samplers, the shipper) start and stop here too, so no entry point repeats them.

Every record passes the privacy filter (gclog/privacy/filter.py) before the store sees it. When
the user opted out (GCLOG_DISABLED, DO_NOT_TRACK) records are still made, for the progress display,
but kept in memory only: no store is opened, no identity file is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gclog.analytics.enrich import cell_fields, session_fields
from gclog.analytics.saved_cells import SavedCells
from gclog.config import Paths, Settings
from gclog.identity import Identity
from gclog.observer import Execution
from gclog.privacy.filter import PrivacyFilter
from gclog.privacy.optout import IN_MEMORY, ephemeral_identity, opt_out_reason
from gclog.records import EndReason, KernelInfo, NotebookInfo, Source
from gclog.session import Session, host_info
from gclog.store import Store


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
        self.store = Store(IN_MEMORY if self.off else paths.store)
        self.identity = (
            ephemeral_identity() if self.off else Identity.load_or_create(paths.identity)
        )
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
        self.saved_cells = saved_cells  # the notebook as saved, for code_modified
        self.cells: list[dict[str, Any]] = []

    def start(
        self,
        kernel_name: str | None,
        kernel_info: dict[str, Any],
        notebook: NotebookInfo,
        kernel_pid: int | None = None,
    ) -> dict[str, Any]:
        seed = session_fields(self.settings, self.identity, kernel_pid, kernel_info)
        self.privacy.hide(seed.identifying_words)  # a raw notebook id, the host name
        return self.session.start(
            kernel=kernel_facts(kernel_name, kernel_info),
            notebook=notebook,
            host=host_info(),
            privacy=self.settings.privacy,
            **seed.fields,
        )

    def cell_finished(self, execution: Execution) -> dict[str, Any]:
        seed = cell_fields(execution, self.saved_cells, self.session.started)
        record = self.session.cell({**execution.cell_fields(), **seed})
        self.cells.append(record)
        return record

    def kernel_event(self, **fields: Any) -> dict[str, Any]:
        return self.session.kernel_event(**fields)

    def end(self, reason: EndReason) -> dict[str, Any]:
        return self.session.end(reason)

    def close(self) -> None:
        self.session.flush()
        self.store.close()
