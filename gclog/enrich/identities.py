"""The notebook key and the visit: which notebook a session ran, the same on every install.

The *notebook key* (the envelope's ``notebook_id``) is, in order:

1. the id its publisher stamped into it (``gclog stamp``: ``metadata.gclog.notebook_id``), so
   every copy of a distributed notebook has one key, edited or not;
2. else ``fp-…``, a fingerprint of its code cells *as this install first saw the file* — copies of
   one unstamped notebook that are run before they are changed share it;
3. else (a path gclog could not read as a notebook) ``path-…``, a joinable hash of the path.

It is never the raw path. ``notebooks.json`` (in gclog's state directory, never shipped) remembers
what each path was when first seen — its key and its code cells as hashes — under a keyed hash of
the path, and for each key this install's visits: so a person who comes back to a notebook the
next day has ``visit`` 2 and ``previous_session_id`` pointing at the day before.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gclog.enrich.cells import Baseline, NotebookFile, read_notebook
from gclog.errors import GclogError
from gclog.files import write_atomic
from gclog.identity import Identity

STAMP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # what a publisher may stamp
REGISTRY = "notebooks.json"
MAX_PATHS = 10_000  # the registry forgets the oldest paths beyond this many


def stamp_of(nb: Any) -> tuple[str, Baseline | None] | None:
    """The publisher's stamp: the notebook id and, when written, the cells as distributed."""
    meta = (nb.get("metadata") or {}).get("gclog") if isinstance(nb, dict) else None
    if not isinstance(meta, dict):
        return None
    key = meta.get("notebook_id")
    if not isinstance(key, str) or not STAMP_ID.fullmatch(key):
        return None
    return key, Baseline.from_json(meta.get("cells"))


def fingerprint(baseline: Baseline) -> str:
    joined = "\n".join(sha for _, sha in baseline.cells)
    return "fp-" + hashlib.sha256(joined.encode()).hexdigest()[:24]


@dataclass
class TrackedNotebook:
    """What a session knows of its notebook: the key, the visit, and the file for cell matching."""

    key: str | None
    key_source: str | None  # stamp, fingerprint, path, or None: no notebook
    path_id: str | None
    visit: int | None
    previous_session_id: str | None
    code_cells: int | None
    file: NotebookFile

    def info(self) -> dict[str, Any]:
        """The fields session_start.notebook gets from here."""
        return {
            "key_source": self.key_source,
            "path_id": self.path_id,
            "visit": self.visit,
            "previous_session_id": self.previous_session_id,
        }

    def match(self, code: str | None, cell_id: str | None = None) -> dict[str, Any]:
        return self.file.match(code, cell_id)


def no_notebook() -> TrackedNotebook:
    return TrackedNotebook(None, None, None, None, None, None, NotebookFile(None, None, None))


def track(
    path: Path | None, identity: Identity, session_id: str, state_dir: Path | None
) -> TrackedNotebook:
    """Identify the notebook at ``path`` for a session; ``state_dir`` None: remember nothing."""
    if path is None:
        return no_notebook()
    resolved = path.expanduser().resolve()
    nb = read_notebook(resolved)
    path_id = "hmac-sha256:" + identity.joinable_hash(str(resolved))
    local_id = identity.keyed_hash("notebook-path:" + str(resolved))
    with _registry(state_dir) as data:
        stamp = stamp_of(nb) if nb is not None else None
        seen = data["paths"].get(local_id)
        if stamp is not None:
            key, source = stamp[0], "stamp"
            baseline = stamp[1] or (Baseline.from_json(seen.get("cells")) if seen else None)
        elif seen is not None:
            key, source, baseline = str(seen["key"]), str(seen["source"]), None
            baseline = Baseline.from_json(seen.get("cells"))
        elif nb is not None:
            baseline = Baseline.of(nb)
            key, source = fingerprint(baseline), "fingerprint"
        else:
            key, source, baseline = "path-" + path_id.split(":")[1][:24], "path", None
        if nb is not None and baseline is None:
            baseline = Baseline.of(nb)
        if seen is None:
            cells = baseline.as_json() if baseline else None
            data["paths"][local_id] = {"key": key, "source": source, "cells": cells}
        visits = data["visits"].setdefault(key, {"count": 0, "last": None})
        visit, previous = visits["count"] + 1, visits["last"]
        visits.update(count=visit, last=session_id)
    return TrackedNotebook(
        key=key,
        key_source=source,
        path_id=path_id,
        visit=visit if state_dir is not None else None,
        previous_session_id=previous,
        code_cells=len(baseline.cells) if baseline else None,
        file=NotebookFile(resolved, baseline, nb),
    )


@contextlib.contextmanager
def _registry(state_dir: Path | None) -> Iterator[dict[str, Any]]:
    """notebooks.json, read and written under a lock (two sessions may start at once).

    It only serves visit numbers and first-seen fingerprints: when it cannot be read or written
    (a read-only or full disk) the session goes on as if it were new.
    """
    data: dict[str, Any] = {"paths": {}, "visits": {}}
    fd = None
    if state_dir is not None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(state_dir / f".{REGISTRY}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            loaded = json.loads((state_dir / REGISTRY).read_text())
            if isinstance(loaded.get("paths"), dict) and isinstance(loaded.get("visits"), dict):
                data = loaded
        except (OSError, ValueError, AttributeError):
            pass  # missing or damaged: start again
    try:
        yield data
        if fd is not None and state_dir is not None:
            while len(data["paths"]) > MAX_PATHS:
                data["paths"].pop(next(iter(data["paths"])))
            with contextlib.suppress(GclogError):
                write_atomic(state_dir / REGISTRY, json.dumps(data))
    finally:
        if fd is not None:
            os.close(fd)
