"""The notebook a kernel belongs to, asked of the Jupyter server that started it (``--server``).

jupyter_server's REST API lists its sessions (``GET /api/sessions``): each names a kernel id and
the notebook's path, relative to the server's root. The kernel runs in the notebook's directory
(jupyter_server starts it there), so the file is that directory and the path's file name.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from gclog.errors import GclogError

TIMEOUT_S = 5.0


def notebook_of_kernel(url: str, kernel_id: str, kernel_cwd: Path | None) -> str | None:
    """The notebook path of ``kernel_id`` on the server at ``url``; None if it has no notebook.

    The token comes from the URL (``?token=…``) or ``JUPYTER_TOKEN``. GclogError if the server
    cannot be asked.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GclogError(f"--server {url!r}: give the server's URL, e.g. http://127.0.0.1:8888/")
    token = urllib.parse.parse_qs(parts.query).get("token", [os.environ.get("JUPYTER_TOKEN", "")])
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    request = urllib.request.Request(f"{base}/api/sessions")
    if token and token[0]:
        request.add_header("Authorization", f"token {token[0]}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
            sessions = json.loads(reply.read())
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise GclogError(f"--server {base}: cannot list its sessions ({reason})") from None
    for session in sessions if isinstance(sessions, list) else []:
        kernel = session.get("kernel") or {}
        if kernel.get("id") == kernel_id and session.get("path"):
            relative = PurePosixPath(str(session["path"]))
            if kernel_cwd is not None and (kernel_cwd / relative.name).is_file():
                return str(kernel_cwd / relative.name)
            return str(relative)
    return None
