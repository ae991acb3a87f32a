"""The sidecar's process: ``python -m gclog.entry.sidecar_process CONNECTION_FILE …``.

sidecar.py starts it (for ``%load_ext gclog`` and ``gclog attach --detach``). It runs the prelude
(gclog/entry/prelude.py) and answers its parent, and only then imports the recorder and the rest
and observes, as ``gclog attach`` does. Not through the CLI: click and the CLI's own imports would
be paid before ``ready`` too.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from gclog.config import Paths, Settings, load_settings
from gclog.entry.lean import skip_format_checker_imports
from gclog.entry.prelude import Prelude, begin
from gclog.entry.sidecar import ReadyPipe
from gclog.errors import ExitCode, GclogError
from gclog.warn import configure_debug


def main(argv: list[str] | None = None) -> None:
    """Observe the kernel of CONNECTION_FILE as a sidecar. Its settings come from the
    environment (``gclog attach --detach`` passes its flags so)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gclog.entry.sidecar_process")
    parser.add_argument("connection_file", type=Path)
    parser.add_argument("--entry-point", choices=["attach", "extension"], default="attach")
    parser.add_argument("--notebook")
    parser.add_argument("--server")
    parser.add_argument("--kernel-pid", type=int)
    parser.add_argument("--disclose", action="store_true")
    parser.add_argument("--loading-cell")
    args = parser.parse_args(argv)
    debug = os.environ.get("GCLOG_DEBUG", "") not in ("", "0")
    if debug:
        configure_debug()
    try:
        settings, paths = load_settings(), Paths.from_env()
        prelude = begin(
            args.connection_file.expanduser().resolve(),
            settings,
            paths,
            ReadyPipe(),
            entry_point=args.entry_point,
            disclose=args.disclose,
        )
        code = ExitCode.OK if prelude is None else _observe(args, settings, paths, prelude)
    except GclogError as exc:  # before `ready`, the parent shows this line
        print(f"gclog: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: one line, or the traceback with GCLOG_DEBUG
        if debug:
            traceback.print_exc()
        print(f"gclog: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = ExitCode.INTERNAL
    sys.exit(int(code))


def _observe(args: Any, settings: Settings, paths: Paths, prelude: Prelude) -> int:
    """After ``ready``: import the rest, and observe until the kernel ends or we are stopped."""
    skip_format_checker_imports()  # see gclog/entry/lean.py
    from rich.console import Console

    from gclog.entry.attach import attach

    return attach(
        str(args.connection_file),
        False,
        settings=settings,
        paths=paths,
        console=Console(stderr=True, highlight=False),
        entry_point="extension" if args.entry_point == "extension" else "attach",
        notebook=args.notebook,
        server=args.server,
        kernel_pid=args.kernel_pid,
        prelude=prelude,
        loading_cell=json.loads(args.loading_cell) if args.loading_cell else None,
    )


if __name__ == "__main__":
    main()
