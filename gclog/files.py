"""Writing the files people asked for (an executed notebook, an export, a report) atomically."""

from __future__ import annotations

import os
from pathlib import Path

from gclog.errors import GclogError


def write_atomic(path: Path, text: str) -> None:
    """Write a temporary file, then rename: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise GclogError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
