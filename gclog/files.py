"""Writing the files people asked for (an executed notebook, an export, a report) atomically.

A symlink is followed (the file it names is replaced, the link stays a link), and something that
is not a regular file (``/dev/stdout``, a pipe) is written into, never replaced.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from gclog.errors import GclogError


def _target(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _is_special(target: Path) -> bool:
    """True for an existing file that is not a regular one: a device, a pipe, a socket."""
    try:
        return not stat.S_ISREG(os.stat(target).st_mode) and not target.is_dir()
    except FileNotFoundError:
        return False


def check_writable(path: Path) -> None:
    """Fail now, before any work, if ``write_atomic(path, …)`` could not write there.

    Tries what the write will do (a file in the target's directory): permission bits alone say
    nothing to root, nor about a read-only or full file system.
    """
    target = _target(path)
    if target.is_dir():
        raise GclogError(f"{path}: is a directory; give a file name")
    if _is_special(target):
        if not os.access(target, os.W_OK):
            raise GclogError(f"cannot write {path}: permission denied")
        return
    if not target.parent.is_dir():
        raise GclogError(f"{path}: directory {target.parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GclogError(
            f"cannot write {path}: directory {target.parent}: {exc.strerror or exc}"
        ) from None


def write_atomic(path: Path, text: str | Iterable[str]) -> int:
    """Write a temporary file, then rename: readers see the old file or the new one, never half.

    ``text`` may come in pieces (written as they come, never held whole); returns the number of
    characters written.
    """
    target = _target(path)
    if _is_special(target):
        try:
            with open(target, "w", encoding="utf-8") as handle:
                return _write(handle, text)
        except OSError as exc:
            raise GclogError(f"cannot write {path}: {exc.strerror or exc}") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            written = _write(handle, text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # keep the mode of the file it replaces
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except OSError as exc:
        raise GclogError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return written


def _write(handle: TextIO, text: str | Iterable[str]) -> int:
    if isinstance(text, str):
        return handle.write(text)
    return sum(handle.write(piece) for piece in text)
