"""The pipeline behind the observer, the same for every entry point.

``run``, ``attach`` and the extension all hand what they observe to a :class:`Recorder`, which
stamps the record (session envelope), and commits it to the store. Services that live as long as
a session (metric samplers, the shipper) start and stop here too, so no entry point repeats them.

Every record passes the privacy filter (gclog/privacy/filter.py) before the store sees it. When
the user opted out (GCLOG_DISABLED, DO_NOT_TRACK) records are still made, for the progress display,
but kept in memory only: no store is opened, no identity file is made.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import EllipsisType
from typing import Any

from gclog.config import Paths, Settings
from gclog.enrich.facets import facets
from gclog.enrich.fields import SessionFields, cell_fields, host_info, kernel_facts, session_fields
from gclog.enrich.identities import track
from gclog.enrich.saved_cells import SavedCells
from gclog.identity import Identity
from gclog.pipeline.session import Session
from gclog.privacy.filter import PrivacyFilter
from gclog.privacy.optout import IN_MEMORY, ephemeral_identity, opt_out_reason
from gclog.records import CellResources, EndReason, EntryPoint, NotebookInfo
from gclog.samplers.base import Context
from gclog.samplers.pool import PoolSettings, SamplerPool, warn_on_stderr
from gclog.ship import start_for_session
from gclog.store import spill
from gclog.store.live import LiveSession, LiveSessions
from gclog.store.store import Store
from gclog.warn import warn

log = logging.getLogger(__name__)

LIVE_EVERY_S = 2.0
STORE_BUSY_S = 0.5  # the writer's wait for the store's lock per try; it retries after that
_PYTHON = {"language_info": {"name": "python"}}  # what `prepare` assumes; start() checks it


class Recorder:
    def __init__(
        self,
        entry_point: EntryPoint,
        settings: Settings,
        paths: Paths,
        notebook_path: Path | None = None,
        saved_cells: SavedCells | None = None,
        keep_cells: bool = True,
        session_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.off = opt_out_reason(settings)
        # A short busy timeout: the writer thread retries, and the session's end keeps its bound.
        self.store = Store(
            IN_MEMORY if self.off else paths.store,
            max_bytes=settings.store_max_mb * 2**20,
            busy_timeout=STORE_BUSY_S,
        )
        self.identity = (
            ephemeral_identity() if self.off else Identity.load_or_create(paths.identity)
        ).with_fleet_key(settings.fleet_key)
        self.privacy = PrivacyFilter(settings.privacy)
        self.session = Session(
            entry_point,
            self.store,
            self.identity,
            record_filter=self.privacy,
            session_id=session_id,
        )
        # The notebook key, the visit, and which cell each execution was (enrich/identities.py).
        self.notebook = track(
            notebook_path, self.identity, self.session.id, None if self.off else paths.state_dir
        )
        self.session.notebook_id = self.notebook.key
        if saved_cells is None and notebook_path is not None:
            saved_cells = SavedCells.from_path(notebook_path)
        self.saved_cells = saved_cells  # the notebook as saved, for code_modified
        # The cell records, for a summary at the end (`gclog run`); a long-lived observer keeps
        # only their count (entry.cells), so its memory does not grow with the session.
        self.keep_cells = keep_cells
        self.cells: list[dict[str, Any]] = []
        self.silent_executions = 0  # requests sent with silent=True: seen, counted, not cells
        self.live = LiveSessions(paths)
        self._live_written = 0.0
        self._live_dirty = False
        self.entry = LiveSession.for_this_process(
            self.session.id, entry_point, notebook=str(notebook_path) if notebook_path else None
        )
        self.metrics: SamplerPool | None = None
        self._prepared: tuple[int, concurrent.futures.Future[SessionFields]] | None = None
        # Ships in the background from the store (earlier sessions' backlog first); None: local.
        self.shipper = None if self.off else start_for_session(settings, paths)
        if not self.off:
            spill.keep_reserve(paths.state_dir)
        self.lost = 0  # records of this session that are nowhere: said, and the exit code shows it

    def prepare(self, kernel_pid: int) -> None:
        """Look up the kernel's environment while it starts (it takes a subprocess: ~0.1 s)."""
        self._prepared = (kernel_pid, concurrent.futures.Future())
        future = self._prepared[1]

        def look_up() -> None:
            try:
                future.set_result(session_fields(self.settings, self.identity, kernel_pid, _PYTHON))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=look_up, name="gclog-environment", daemon=True).start()

    def _session_fields(self, kernel_pid: int | None, kernel_info: dict[str, Any]) -> SessionFields:
        prepared = self._prepared
        language = ((kernel_info.get("language_info") or {}).get("name") or "").lower()
        if prepared is None or prepared[0] != kernel_pid or language != "python":
            return session_fields(self.settings, self.identity, kernel_pid, kernel_info)
        return prepared[1].result()

    def start(
        self,
        kernel_name: str | None,
        kernel_info: dict[str, Any],
        notebook: NotebookInfo,
        kernel_pid: int | None = None,
        connection_file: str | None = None,
        kernel_id: str | None = None,
        warn: Callable[[str], None] = warn_on_stderr,
    ) -> dict[str, Any]:
        """Emit session_start; the metric samplers start here and run until :meth:`end`.

        ``kernel_pid`` is the kernel process whose tree the cells' resources come from;
        ``warn`` shows a sampler's one warning when it is switched off.
        """
        seed = self._session_fields(kernel_pid, kernel_info)
        self.privacy.hide(seed.identifying_words)  # a raw notebook id, the host name
        self.metrics = SamplerPool(
            PoolSettings.from_settings(self.settings), Context(kernel_pid=kernel_pid), warn=warn
        )
        kernel = kernel_facts(kernel_name, kernel_info)
        metrics = self.metrics.start()
        if notebook.get("code_cells") is None:
            notebook = {**notebook, "code_cells": self.notebook.code_cells}
        record = self.session.start(
            kernel=kernel,
            notebook={**notebook, **self.notebook.info()},
            host=host_info(),
            privacy=self.settings.privacy,
            metrics=metrics,
            facets=facets(kernel, metrics, seed.fields["frameworks"]),
            **seed.fields,
        )
        entry = self.entry
        entry.kernel_name, entry.kernel_pid = kernel_name, kernel_pid
        entry.connection_file, entry.kernel_id = connection_file, kernel_id
        entry.metric_sources = {
            name: {"on": source["on"], "reason": source["reason"]}
            for name, source in record["metrics"]["sources"].items()
        }
        self._note(record, state="observing")
        self.metrics.publish(lambda fields: self.session.emit("metrics", fields))
        return record

    def cell_started(self, key: str) -> None:
        """The kernel took the cell (run: request sent; attach: iopub busy): resources from now.

        ``key`` names the execution (its request's msg_id) until :meth:`cell_finished`.
        """
        if self.metrics is not None:
            self.metrics.cell_started(key)

    def cell_ended(self, key: str) -> CellResources | None:
        """The cell's resources, read at its end: at once, before the next cell starts (`gclog
        run` records the cell itself while the next one runs, see observe/observation.py)."""
        return self.metrics.cell_finished(key) if self.metrics else None

    def cell_finished(
        self,
        key: str,
        observed: dict[str, Any],
        outputs: list[Any],
        resources: CellResources | EllipsisType | None = ...,  # ...: read them now
    ) -> dict[str, Any]:
        """Record a cell: what the observer saw of it (``observed``, its outputs), enriched."""
        fields = {
            **observed,
            **cell_fields(observed.get("code"), outputs, self.saved_cells, self.session.started),
            **self.notebook.match(observed.get("code"), observed.get("cell_id")),
        }
        if resources is ...:
            resources = self.cell_ended(key)
        if resources is not None:
            fields["resources"] = resources
        record = self.session.cell(fields)
        if self.keep_cells:
            self.cells.append(record)
        self.entry.cells += 1
        self.entry.errors += observed["status"] in ("error", "interrupted")
        self._note(record)
        return record

    def _save_unstored(self, records: list[dict[str, Any]]) -> None:
        """The store still refuses records at the very end: keep them in a file beside it.

        The next session takes the file back into the store (:func:`spill.take_back`).
        """
        try:
            where = spill.save(self.paths.state_dir, self.session.id, records)
            warn(
                f"the store refused {len(records)} records "
                f"({self.session.store_error or 'it was busy'}); they are saved in {where} and "
                "the next gclog session stores them"
            )
        except OSError as exc:
            self.lost += len(records)
            with contextlib.suppress(OSError):  # an empty or torn file helps nobody
                spill.discard(self.paths.state_dir, self.session.id)
            print(
                f"gclog: error: the store refused {len(records)} records "
                f"({self.session.store_error or 'it was busy'}) and they could not be saved "
                f"either ({exc.strerror or exc}): they are lost",
                file=sys.stderr,
            )

    def _store_the_end(self, lost: list[dict[str, Any]]) -> None:
        """Records are lost (a full disk): give up the reserve so that at least the session_end,
        counting every record lost, gets into the store."""
        end = next((r for r in reversed(lost) if r["event_type"] == "session_end"), None)
        if end is None or not spill.give_up_reserve(self.paths.state_dir):
            return
        dropped = dict(self.session.lost)
        for record in lost:
            if record is not end:
                dropped[record["event_type"]] = dropped.get(record["event_type"], 0) + 1
        end["records_dropped"] = dropped
        try:
            self.store.append(end)
        except (OSError, sqlite3.Error):
            return
        self.lost -= 1
        print(
            f"gclog: the session_end record, counting the {self.lost} records lost, is stored",
            file=sys.stderr,
        )

    def cell_dropped(self, key: str) -> None:
        """A request that is not a cell (sent with silent=True): counted, its meter let go."""
        self.silent_executions += 1
        if self.metrics is not None:
            self.metrics.cell_discarded(key)

    def kernel_changed(self, kernel_pid: int | None) -> None:
        """The kernel restarted as a new process: sample (and show in `gclog status`) that one."""
        self.entry.kernel_pid = kernel_pid
        if self.metrics is not None:
            self.metrics.kernel_changed(kernel_pid)

    def kernel_event(self, **fields: Any) -> dict[str, Any]:
        record = self.session.kernel_event(**fields)
        self._note(record)
        return record

    def stop_metrics(self) -> None:
        """Take the last metric window now (at once if called again): before the kernel is asked
        to exit, so that the last reading is of the kernel as it was, not of one going away."""
        if self.metrics is not None:
            self.metrics.stop()

    def end(self, reason: EndReason) -> dict[str, Any]:
        self.stop_metrics()  # its last window is recorded before session_end
        record = self.session.end(reason, silent_executions=self.silent_executions)
        self._note(record, state="ending")
        return record

    def _note(self, record: dict[str, Any], state: str | None = None) -> None:
        """Keep this session's live entry (what `gclog status` shows) up to date.

        Rewritten at most every LIVE_EVERY_S (a rename costs ~1 ms on some file systems,
        too much for every cell), at once when the session's state changes, and by ``tick()``
        when a loop has a moment.
        """
        self.entry.last_event = record["event_type"]
        self.entry.last_event_at = time.time()
        if state:
            self.entry.state = state
        self._live_dirty = True
        self.tick(force=state is not None)

    def tick(self, force: bool = False) -> None:
        """Write the live entry if it changed and was not written in the last moments."""
        if self.off:
            return  # opted out: no state is written, the live sessions included
        now = time.time()
        if self._live_dirty and (force or now - self._live_written >= LIVE_EVERY_S):
            self._live_dirty = False
            self._live_written = now
            self.live.write(self.entry)

    def close(self) -> None:
        """Store what is left, then give the shipper the rest of ``flush_timeout`` to send it.

        The whole end keeps to ``flush_timeout`` (plus the store's busy timeout, once).
        """
        deadline = time.monotonic() + self.settings.flush_timeout
        if self.metrics is not None:
            self.metrics.stop()
        left = self.session.close(self.settings.flush_timeout)
        if self.session.lost:
            lost = sum(self.session.lost.values())
            self.lost += lost
            print(
                f"gclog: error: {lost} records were lost: the store refused records for too "
                f"long ({self.session.store_error or 'unknown reason'}) and memory held "
                f"{self.session.capacity}; the session_end record counts them",
                file=sys.stderr,
            )
        if left and not self.off:
            self._save_unstored(left)
            if self.lost:
                self._store_the_end(left)
        elif not self.off:  # the store works: take back what earlier sessions had to leave out
            try:
                spill.take_back(self.store, self.paths.state_dir)
            except (OSError, sqlite3.Error) as exc:
                log.debug("could not take back unstored records: %s", exc)
        if not self.off:
            with contextlib.suppress(OSError):
                self.live.remove(self.session.id)
        try:
            if self.shipper is not None:
                report = self.shipper.stop(max(0.0, deadline - time.monotonic()))
                if report.remaining:
                    warn(report.summary())
        except Exception as exc:  # the records are safe in the store; say so, do not fail the run
            warn(
                f"could not check the shipping ({exc}); "
                "records not shipped are kept in the store for `gclog flush`"
            )
        finally:
            self.store.close()
