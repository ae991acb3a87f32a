"""Records the store refused to the very end of a session, kept in a file beside it until it takes them.

A session whose store stays locked or full past its ``flush_timeout`` writes what is left to
``unstored-<session>.ndjson`` in the state directory (one JSON record a line). The next session
that closes with a working store, ``gclog flush`` and ``gclog doctor`` take such files back into
the store (:func:`take_back`) and delete them; nothing is shipped from a file, only from the store.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from gclog.store.store import Store

PATTERN = "unstored-*.ndjson"
RESERVE = "reserve"  # a file of RESERVE_BYTES kept beside the store, given up on a full disk
RESERVE_BYTES = 256 * 1024


def keep_reserve(state_dir: Path) -> None:
    """Make the reserve if it is missing (and the disk has room): room, later, for the one record
    that must get in when the disk is full — the session_end that counts what was lost."""
    path = state_dir / RESERVE
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
    except OSError:  # no room even for this: no reserve this time
        os.close(fd)
        path.unlink(missing_ok=True)
        return
    os.close(fd)


def give_up_reserve(state_dir: Path) -> bool:
    """Free the reserve's space; True if there was one."""
    try:
        (state_dir / RESERVE).unlink()
        return True
    except OSError:
        return False


def save(state_dir: Path, session_id: str, records: list[dict[str, Any]]) -> Path:
    """Append ``records`` to the session's file, synced; raises OSError if they are not all there."""
    path = state_dir / f"unstored-{session_id}.ndjson"
    text = "".join(json.dumps(record) + "\n" for record in records)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def discard(state_dir: Path, session_id: str) -> None:
    """Remove a session's file that could not be written whole (a full disk)."""
    (state_dir / f"unstored-{session_id}.ndjson").unlink(missing_ok=True)


def pending(state_dir: Path) -> list[Path]:
    return sorted(state_dir.glob(PATTERN))


def take_back(store: Store, state_dir: Path) -> int:
    """Store the records of every spill file, then delete the file; returns how many were stored.

    A line that is not a JSON record (a torn last line) is kept in ``<file>.bad`` for a person.
    """
    taken = 0
    for path in pending(state_dir):
        records, bad = [], []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "session_id" not in record:
                    raise ValueError(line)
                records.append(record)
            except ValueError:
                if line.strip():
                    bad.append(line)
        for start in range(0, len(records), 500):
            store.append_many(records[start : start + 500])
        if bad:
            with open(path.with_suffix(".bad"), "a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in bad))
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        taken += len(records)
    return taken
