"""``gclog export``: the stored records as NDJSON."""

from __future__ import annotations

import sys
from pathlib import Path

from gclog.config import Paths
from gclog.errors import GclogError
from gclog.files import write_atomic
from gclog.store.store import Store
from gclog.text import by_prefix


def resolve_session(store: Store, session_id: str | None, last: bool) -> str | None:
    """An exact id, a unique prefix, the last session (``last``), or None for every record."""
    if last and session_id:
        raise GclogError("give either --session or --last, not both")
    if last:
        found = store.last_session_id()
        if found is None:
            raise GclogError("no sessions recorded yet")
        return found
    if session_id is None:
        return None
    return by_prefix(session_id, store.session_ids(prefix=session_id), "session")


def export_records(paths: Paths, session_id: str | None, last: bool, output: Path | None) -> int:
    with Store(paths.store) as store:
        wanted = resolve_session(store, session_id, last)
        if output is None:
            out = sys.stdout
            for body in store.bodies(wanted):
                out.write(body)
                out.write("\n")
            out.flush()
        else:
            write_atomic(output, "".join(f"{body}\n" for body in store.bodies(wanted)))
    return 0
