"""`%load_ext gclog` in a notebook executed by other tools (nbconvert, nbclient), not by gclog."""

from __future__ import annotations

import subprocess
import sys

import nbformat
from helpers import Env, by_type, write_notebook


def test_every_cell_between_load_and_unload_is_recorded(env: Env) -> None:
    path = write_notebook(
        env.root / "n.ipynb",
        "%load_ext gclog",
        "print('one')",
        "x = 20\nx + 22",
        "import time; time.sleep(0.2)",
        "%load_ext gclog",  # loading twice is harmless
        "1/0",
        "print('last')",
        "%unload_ext gclog",
        "print('not recorded')",
    )
    # raises-exception lets nbconvert carry on past the 1/0 cell
    nb = nbformat.read(path, as_version=4)
    nb.cells[5].metadata["tags"] = ["raises-exception"]
    nbformat.write(nb, path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            str(path),
            "--output",
            "n.out.ipynb",
        ],
        env=env.vars,
        cwd=env.root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    out = nbformat.read(env.root / "n.out.ipynb", as_version=4)
    loaded = "".join(o.get("text", "") for o in out.cells[0].outputs)
    assert "gclog records how this notebook is used" in loaded  # the disclosure
    assert "`%unload_ext gclog`" in loaded and "observing this kernel" in loaded
    assert "gclog records how" not in "".join(o.get("text", "") for o in out.cells[4].outputs)
    unloaded = out.cells[7].outputs[0]["data"]["text/plain"]
    assert unloaded.startswith("gclog: stopped observing this kernel")

    records = env.records()
    assert len({r["session_id"] for r in records}) == 1
    assert {r["source"] for r in records} == {"extension"}
    cells = by_type(records, "cell")
    # The load and unload cells are the person's too: recorded whole, with their times.
    assert [c["code"] for c in cells] == [
        "%load_ext gclog",
        "print('one')",
        "x = 20\nx + 22",
        "import time; time.sleep(0.2)",
        "%load_ext gclog",
        "1/0",
        "print('last')",
        "%unload_ext gclog",
    ]
    assert [c["status"] for c in cells] == ["ok", "ok", "ok", "ok", "ok", "error", "ok", "ok"]
    assert not any(c["partial"] for c in cells)
    assert [c["execution_count"] for c in cells] == list(range(1, 9))
    for cell in (cells[0], cells[-1]):
        assert cell["times"]["started_at"] and cell["times"]["ended_at"]
        assert cell["duration_s"] is not None and 0 <= cell["duration_s"] < 30
        assert cell["code_sha256"] is not None
    end = records[-1]
    assert end["event_type"] == "session_end" and end["reason"] == "unloaded"
    # nothing after %unload_ext
    assert "not recorded" not in str(records)


def test_nbclient_and_opt_out(env: Env) -> None:
    from nbclient import NotebookClient

    path = write_notebook(
        env.root / "n.ipynb", "%load_ext gclog", "print('hi')", "%unload_ext gclog"
    )
    nb = nbformat.read(path, as_version=4)
    import os

    saved = dict(os.environ)
    os.environ.update(env.vars)
    try:
        NotebookClient(
            nb, kernel_name="python3", resources={"metadata": {"path": str(env.root)}}
        ).execute()
        codes = [c["code"] for c in by_type(env.records(), "cell")]
        assert codes == ["%load_ext gclog", "print('hi')", "%unload_ext gclog"]
        os.environ["GCLOG_DISABLED"] = "1"
        before = len(env.records())
        fresh = nbformat.read(path, as_version=4)
        NotebookClient(
            fresh, kernel_name="python3", resources={"metadata": {"path": str(env.root)}}
        ).execute()
        assert "recording is off (GCLOG_DISABLED=1)" in fresh.cells[0].outputs[0]["text"]
        assert len(env.records()) == before
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_load_ext_imports_only_the_standard_library_into_the_kernel(env: Env) -> None:
    """The person's kernel pays for what it imports: `%load_ext gclog` brings in gclog's two
    in-kernel modules and the standard library, nothing else (the sidecar does the rest)."""
    import json

    from helpers import DrivenKernel

    kernel = DrivenKernel(env)
    try:
        kernel.execute("import sys; _before = set(sys.modules)")
        kernel.execute("%load_ext gclog")
        found: list[str] = []
        kernel.client.execute_interactive(
            "import json; print(json.dumps(sorted(set(sys.modules) - _before)))",
            output_hook=lambda msg: (
                found.append(msg["content"].get("text", ""))
                if msg["msg_type"] == "stream"
                else None
            ),
        )
        kernel.execute("%unload_ext gclog")
    finally:
        kernel.shutdown()
    new = json.loads("".join(found))
    ours = {"gclog", "gclog.entry", "gclog.entry.extension", "gclog.entry.sidecar", "gclog.errors"}
    assert ours & set(new), new  # it did load
    allowed = {*sys.stdlib_module_names, "IPython"}  # IPython's own %load_ext machinery
    foreign = [m for m in new if m not in ours and m.split(".")[0] not in allowed]
    assert foreign == [], foreign
    assert {r["source"] for r in env.records()} == {"extension"}
