"""The floor: the least a program can do to run a notebook through jupyter_client.

Exactly this, and nothing else: read the notebook with ``nbformat.read`` (which validates it);
``start_new_kernel`` (launch, connect, wait until it answers ``kernel_info``); for each code cell
with a non-blank source, ``execute`` it (``allow_stdin=False``), take iopub messages until that
request's ``status: idle``, keeping its stream, display_data, execute_result and error messages
as outputs (``output_from_msg``), then take its shell reply; set the cell's outputs and
execution count; ``shutdown_kernel`` (jupyter_client's defaults); write the notebook once with
``nbformat.write``. It records nothing, shows nothing, keeps no checkpoints, honours no tags, and
like gclog it keeps jsonschema's optional format-checker imports out (gclog/entry/lean.py).
"""

from __future__ import annotations

import sys

from gclog.entry.lean import skip_format_checker_imports  # stdlib only: gclog's own list

skip_format_checker_imports()  # lean as gclog is: no format-checker libraries nobody calls

import nbformat  # noqa: E402
from jupyter_client.manager import start_new_kernel  # noqa: E402
from nbformat.v4 import output_from_msg  # noqa: E402


def main(source: str, target: str) -> None:
    nb = nbformat.read(source, as_version=4)
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        for cell in nb.cells:
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            msg_id = client.execute(cell.source, allow_stdin=False)
            outputs, idle, reply = [], False, None
            while not (idle and reply):
                msg = client.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "status":
                    idle = msg["content"]["execution_state"] == "idle"
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    outputs.append(output_from_msg(msg))
                if idle and reply is None:
                    reply = client.get_shell_msg(timeout=60)
            cell.outputs = outputs
            cell.execution_count = reply["content"].get("execution_count")
    finally:
        client.stop_channels()
        manager.shutdown_kernel()
    nbformat.write(nb, target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
