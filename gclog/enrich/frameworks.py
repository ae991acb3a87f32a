"""Framework versions of the *kernel's* environment, found without sending the kernel any code.

gclog may run in one environment and the kernel in another (a conda env, a venv kernelspec). The
kernel's interpreter is found from its process (the path it was started with, not the resolved
executable: a venv's ``python`` is a symlink to the base interpreter, which lacks the venv's
packages) and asked, in a subprocess with the kernel's environment, for the installed distributions'
versions through ``importlib.metadata``. Nothing is imported, so it is quick (~50 ms).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psutil

LOOKUP_TIMEOUT_S = 10.0

_LOOKUP = """
import json, sys
from importlib import metadata
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = metadata.version(name)
    except Exception:
        found[name] = None
print(json.dumps(found))
"""


@dataclass
class KernelProcess:
    """What the kernel's process says about where it runs."""

    python: str | None
    environ: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None

    @classmethod
    def of(cls, pid: int | None) -> KernelProcess:
        if pid is None:
            return cls(python=None, environ=dict(os.environ))
        try:
            proc = psutil.Process(pid)
            environ = proc.environ()
            argv0 = (proc.cmdline() or [""])[0]
            cwd = proc.cwd()
            exe = proc.exe()
        except (psutil.Error, OSError):
            return cls(python=None, environ=dict(os.environ))
        return cls(python=_interpreter(argv0, exe, environ, cwd), environ=environ, cwd=cwd)


def _interpreter(argv0: str, exe: str, environ: Mapping[str, str], cwd: str) -> str | None:
    """The interpreter as the kernel was started (keeps a venv's identity), if it is Python."""
    candidate = argv0
    if candidate and not os.path.isabs(candidate):
        candidate = (
            os.path.join(cwd, candidate)
            if os.sep in candidate
            else shutil.which(candidate, path=environ.get("PATH")) or ""
        )
    for path in (candidate, exe):
        if path and os.path.basename(path).startswith("python") and os.access(path, os.X_OK):
            return path
    return None


@dataclass
class FrameworkVersions:
    versions: dict[str, str | None]
    note: str | None = None  # why the versions are unknown, when they are


def framework_versions(
    kernel: KernelProcess, names: Sequence[str], timeout: float = LOOKUP_TIMEOUT_S
) -> FrameworkVersions:
    """Versions of ``names`` installed where the kernel runs (None: not installed)."""
    unknown = dict.fromkeys(names)
    if not names:
        return FrameworkVersions({})
    if kernel.python is None:
        return FrameworkVersions(
            unknown, "the kernel's interpreter is not a Python one gclog can find"
        )
    try:
        result = subprocess.run(
            [kernel.python, "-c", _LOOKUP, *names],
            env=kernel.environ or None,
            cwd=kernel.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return FrameworkVersions(unknown, f"looking up versions took over {timeout:g}s")
    except OSError as exc:
        return FrameworkVersions(unknown, f"cannot run the kernel's interpreter ({exc.strerror})")
    try:
        found = json.loads(result.stdout.strip().splitlines()[-1])
        return FrameworkVersions({n: _version(found.get(n)) for n in names})
    except (ValueError, IndexError, AttributeError):
        return FrameworkVersions(unknown, f"the version lookup failed (exit {result.returncode})")


def _version(value: object) -> str | None:
    return str(value)[:64] if value is not None else None
