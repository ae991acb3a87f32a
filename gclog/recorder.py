"""The pipeline behind the observer, the same for every entry point.

``run``, ``attach`` and the extension all hand what they observe to a :class:`Recorder`, which
stamps the record (session envelope), and commits it to the store. Services that live as long as
a session (metric samplers, the shipper) start and stop here too, so no entry point repeats them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gclog.config import Paths, Settings
from gclog.identity import Identity
from gclog.observer import Execution
from gclog.records import EndReason, KernelInfo, NotebookInfo, Source
from gclog.registry import Entry, Registry
from gclog.session import Session, host_info
from gclog.store import Store

REGISTRY_EVERY_S = 2.0


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
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.store = Store(paths.store)
        self.identity = Identity.load_or_create(paths.identity)
        self.session = Session(source, self.store, self.identity, notebook_path=notebook_path)
        self.cells: list[dict[str, Any]] = []
        self.silent_executions = 0  # requests sent with silent=True: seen, counted, not cells
        self.registry = Registry(paths)
        self._registry_written = 0.0
        self._registry_dirty = False
        self.entry = Entry.for_this_process(
            self.session.id, source, notebook=str(notebook_path) if notebook_path else None
        )

    def start(
        self,
        kernel_name: str | None,
        kernel_info: dict[str, Any],
        notebook: NotebookInfo,
        kernel_pid: int | None = None,
        connection_file: str | None = None,
        kernel_id: str | None = None,
    ) -> dict[str, Any]:
        record = self.session.start(
            kernel=kernel_facts(kernel_name, kernel_info),
            notebook=notebook,
            host=host_info(),
            privacy=self.settings.privacy,
        )
        entry = self.entry
        entry.kernel_name, entry.kernel_pid = kernel_name, kernel_pid
        entry.connection_file, entry.kernel_id = connection_file, kernel_id
        self._note(record, state="observing")
        return record

    def cell_finished(self, execution: Execution) -> dict[str, Any]:
        record = self.session.cell(execution.cell_fields())
        self.cells.append(record)
        self.entry.cells += 1
        self.entry.errors += record["status"] in ("error", "interrupted")
        self._note(record)
        return record

    def kernel_event(self, **fields: Any) -> dict[str, Any]:
        record = self.session.kernel_event(**fields)
        self._note(record)
        return record

    def end(self, reason: EndReason) -> dict[str, Any]:
        record = self.session.end(reason, silent_executions=self.silent_executions)
        self._note(record, state="ending")
        return record

    def _note(self, record: dict[str, Any], state: str | None = None) -> None:
        """Keep this session's registry entry (what `gclog status` shows) up to date.

        Rewritten at most every REGISTRY_EVERY_S (a rename costs ~1 ms on some file systems,
        too much for every cell), at once when the session's state changes, and by ``tick()``
        when a loop has a moment.
        """
        self.entry.last_event = record["event_type"]
        self.entry.last_event_at = time.time()
        if state:
            self.entry.state = state
        self._registry_dirty = True
        self.tick(force=state is not None)

    def tick(self, force: bool = False) -> None:
        """Write the registry entry if it changed and was not written in the last moments."""
        now = time.time()
        if self._registry_dirty and (force or now - self._registry_written >= REGISTRY_EVERY_S):
            self._registry_dirty = False
            self._registry_written = now
            self.registry.write(self.entry)

    def close(self) -> None:
        self.registry.remove(self.session.id)
        self.session.flush()
        self.store.close()
