"""The pipeline behind the observer, the same for every entry point.

``run``, ``attach`` and the extension all hand what they observe to a :class:`Recorder`, which
stamps the record (session envelope), and commits it to the store. Services that live as long as
a session (metric samplers, the shipper) start and stop here too, so no entry point repeats them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gclog.config import Paths, Settings
from gclog.identity import Identity
from gclog.observer import Execution
from gclog.records import EndReason, KernelInfo, NotebookInfo, Source
from gclog.session import Session, host_info
from gclog.shipper import start_for_session
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
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.store = Store(paths.store, max_bytes=settings.store_max_mb * 2**20)
        self.identity = Identity.load_or_create(paths.identity)
        self.session = Session(source, self.store, self.identity, notebook_path=notebook_path)
        self.cells: list[dict[str, Any]] = []
        # Ships in the background from the store (earlier sessions' backlog first); None: local.
        self.shipper = start_for_session(settings, paths)

    def start(
        self, kernel_name: str | None, kernel_info: dict[str, Any], notebook: NotebookInfo
    ) -> dict[str, Any]:
        return self.session.start(
            kernel=kernel_facts(kernel_name, kernel_info),
            notebook=notebook,
            host=host_info(),
            privacy=self.settings.privacy,
        )

    def cell_finished(self, execution: Execution) -> dict[str, Any]:
        record = self.session.cell(execution.cell_fields())
        self.cells.append(record)
        return record

    def kernel_event(self, **fields: Any) -> dict[str, Any]:
        return self.session.kernel_event(**fields)

    def end(self, reason: EndReason) -> dict[str, Any]:
        return self.session.end(reason)

    def close(self) -> None:
        """Flush the session, then give the shipper at most ``flush_timeout`` to send the rest."""
        self.session.flush()
        try:
            if self.shipper is not None:
                report = self.shipper.stop(self.settings.flush_timeout)
                if report.remaining:
                    print(f"gclog: warning: {report.summary()}", file=sys.stderr)
        except Exception as exc:  # the records are safe in the store; say so, do not fail the run
            print(
                f"gclog: warning: could not check the shipping ({exc}); "
                "records not shipped are kept in the store for `gclog flush`",
                file=sys.stderr,
            )
        finally:
            self.store.close()
