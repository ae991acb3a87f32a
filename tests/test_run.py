"""`gclog run` end to end: real ipykernel kernels, the real CLI process, the real store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from helpers import Env, by_type, one_line_error, write_notebook


def read_nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_run_records_every_cell_and_writes_the_executed_notebook(env: Env) -> None:
    nb_path = write_notebook(
        env.root / "tour.ipynb",
        {"markdown": True, "source": "# A tour"},
        "print('hello')",
        "x = 41\nx + 1",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))",
        "import sys; print('careful', file=sys.stderr)",
    )
    before = nb_path.read_bytes()
    result = env.gclog("run", str(nb_path))
    assert result.returncode == 0, result.stderr
    assert nb_path.read_bytes() == before, "the input notebook must not change"

    out = read_nb(env.root / "tour.gclog.ipynb")
    code_cells = [c for c in out.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code_cells] == [1, 2, 3, 4]
    assert code_cells[0].outputs[0].text == "hello\n"
    assert code_cells[1].outputs[0].data["text/plain"] == "42"
    assert code_cells[2].outputs[0].data["text/html"] == "<b>bold</b>"
    for cell in code_cells:
        timing = cell.metadata["execution"]
        assert set(timing) >= {"iopub.status.busy", "iopub.status.idle", "shell.execute_reply"}
        assert cell.metadata["gclog"]["status"] == "ok"

    records = env.records()
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert len({r["event_id"] for r in records}) == len(records)
    records = [r for r in records if r["event_type"] != "metrics"]  # tested in test_metrics
    assert [r["event_type"] for r in records] == ["session_start"] + ["cell"] * 4 + ["session_end"]
    assert {r["session_id"] for r in records} == {out.metadata["gclog"]["session_id"]}
    for record in records:
        assert record["schema"] == "gclog/1" and record["source"] == "run"
        assert record["event_time"].endswith("Z")
    start = records[0]
    assert start["kernel"]["name"] == "python3" and start["kernel"]["language"] == "python"
    notebook = start["notebook"]
    assert {k: notebook[k] for k in ("name", "code_cells", "key_source", "visit")} == {
        "name": "tour.ipynb",
        "code_cells": 4,
        "key_source": "fingerprint",
        "visit": 1,
    }
    assert start["notebook_id"].startswith("fp-") and notebook["path_id"].startswith("hmac-")
    cells = by_type(records, "cell")
    assert [c["index"] for c in cells] == [1, 2, 3, 4]
    assert [(c["cell_index"], c["cell_match"]) for c in cells] == [
        (i, "distributed") for i in range(4)
    ]
    assert [c["status"] for c in cells] == ["ok"] * 4
    assert cells[0]["code"] == "print('hello')"
    assert cells[0]["output"]["stdout"] == "hello\n"
    assert cells[1]["output"]["result"] == "42"
    assert cells[2]["output"]["bytes_by_mime"]["text/html"] == len("<b>bold</b>")
    assert cells[3]["output"]["stderr"] == "careful\n"
    for cell in cells:
        assert 0 <= cell["duration_s"] < 30 and 0 <= cell["queue_wait_s"] < 30
        assert cell["times"]["started_at"] <= cell["times"]["ended_at"]
    end = records[-1]
    assert end["reason"] == "completed"
    assert end["cells"] == {"total": 4, "ok": 4, "error": 0, "interrupted": 0, "aborted": 0}
    assert end["time_to_first_error_s"] is None

    # The summary names where everything went.
    assert "tour.gclog.ipynb" in result.stderr
    assert str(env.store) in result.stderr


def test_plain_progress_prints_one_line_per_cell(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "1", "import time; time.sleep(0.1)", "3")
    result = env.gclog("run", str(nb_path))
    assert result.returncode == 0
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("gclog: [")]
    assert len(lines) == 3
    assert lines[1].startswith("gclog: [2/3] ok") and "time.sleep(0.1)" in lines[1]


def test_output_option_cwd_and_kernel_option(env: Env) -> None:
    data = env.root / "data"
    data.mkdir()
    (data / "input.txt").write_text("from the data dir")
    nb_path = write_notebook(env.root / "n.ipynb", "print(open('input.txt').read())", kernel="nope")
    out = env.root / "out" / "result.ipynb"
    out.parent.mkdir()
    result = env.gclog("run", str(nb_path), "-o", str(out), "-k", "python3", "--cwd", str(data))
    assert result.returncode == 0, result.stderr
    assert read_nb(out).cells[0].outputs[0].text == "from the data dir\n"


def test_default_working_directory_is_the_notebooks(env: Env) -> None:
    sub = env.root / "project"
    sub.mkdir()
    nb_path = write_notebook(sub / "n.ipynb", "import os; print(os.getcwd())")
    result = env.gclog("run", str(nb_path))
    assert result.returncode == 0, result.stderr
    assert read_nb(sub / "n.gclog.ipynb").cells[0].outputs[0].text.strip() == str(sub)


def test_refuses_to_overwrite_the_input_unless_inplace(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "print(1)")
    before = nb_path.read_bytes()
    result = env.gclog("run", str(nb_path), "-o", str(nb_path))
    assert result.returncode == 2
    assert "--inplace" in one_line_error(result.stderr)
    assert nb_path.read_bytes() == before
    result = env.gclog("run", str(nb_path), "--inplace")
    assert result.returncode == 0, result.stderr
    assert read_nb(nb_path).cells[0].outputs[0].text == "1\n"


def test_nbclient_tags_and_empty_cells(env: Env) -> None:
    nb_path = write_notebook(
        env.root / "n.ipynb",
        {"source": "raise RuntimeError('expected')", "tags": ["raises-exception"]},
        {"source": "print('never')", "tags": ["skip-execution"]},
        "   \n",
        "print('still running')",
    )
    result = env.gclog("run", str(nb_path))
    assert result.returncode == 0, result.stderr
    out = read_nb(env.root / "n.gclog.ipynb")
    assert out.cells[0].outputs[0].ename == "RuntimeError"
    assert out.cells[1].outputs == [] and out.cells[1].execution_count is None
    assert out.cells[3].outputs[0].text == "still running\n"
    cells = by_type(env.records(), "cell")
    assert [(c["index"], c["status"]) for c in cells] == [(0, "error"), (3, "ok")]


def test_input_fails_clearly_instead_of_hanging(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "name = input('name? ')")
    result = env.gclog("run", str(nb_path), timeout=60)
    assert result.returncode == 1
    cell = by_type(env.records(), "cell")[0]
    assert cell["status"] == "error"
    assert cell["error"]["ename"] == "StdinNotImplementedError"


def test_a_failing_cell_stops_the_run_with_exit_1(env: Env) -> None:
    nb_path = write_notebook(
        env.root / "n.ipynb", "print('first')", "1/0", "print('never reached')"
    )
    result = env.gclog("run", str(nb_path))
    assert result.returncode == 1
    assert "raised ZeroDivisionError" in result.stderr
    out = read_nb(env.root / "n.gclog.ipynb")
    assert out.cells[1].outputs[0].output_type == "error"
    assert out.cells[1].outputs[0].ename == "ZeroDivisionError"
    assert out.cells[2].outputs == [] and out.cells[2].execution_count is None
    records = env.records()
    cells = by_type(records, "cell")
    assert [c["status"] for c in cells] == ["ok", "error"]
    error = cells[1]["error"]
    assert error["ename"] == "ZeroDivisionError" and "division by zero" in error["evalue"]
    assert "\x1b[" not in error["traceback"] and "ZeroDivisionError" in error["traceback"]
    end = records[-1]
    assert end["reason"] == "cell_error"
    assert end["time_to_first_error_s"] is not None and end["time_to_first_error_s"] > 0


def test_allow_errors_carries_on_and_exits_0(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "1/0", "print('reached')")
    result = env.gclog("run", str(nb_path), "--allow-errors")
    assert result.returncode == 0, result.stderr
    cells = by_type(env.records(), "cell")
    assert [c["status"] for c in cells] == ["error", "ok"]
    assert env.records()[-1]["reason"] == "completed"


@pytest.mark.parametrize(
    ("code", "exit_code", "signal_number"),
    [("import os; os._exit(7)", 7, None), ("import os; os.kill(os.getpid(), 9)", None, 9)],
)
def test_kernel_death_is_detected_recorded_and_exits_3(
    env: Env, code: str, exit_code: int | None, signal_number: int | None
) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "print('before')", code, "print('never')")
    started = time.monotonic()
    result = env.gclog("run", str(nb_path), timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert "kernel died" in result.stderr
    records = env.records()
    died = by_type(records, "kernel")
    assert len(died) == 1
    assert died[0]["event"] == "died" and died[0]["cell_index"] == 1
    assert died[0]["exit_code"] == exit_code and died[0]["signal"] == signal_number
    cells = by_type(records, "cell")
    assert [c["status"] for c in cells] == ["ok", "error"]
    assert cells[1]["error"]["ename"] == "DeadKernelError"
    assert records[-1]["reason"] == "kernel_died"
    out = read_nb(env.root / "n.gclog.ipynb")
    assert out.cells[0].outputs[0].text == "before\n"
    assert out.cells[1].outputs[-1].ename == "DeadKernelError"
    assert out.cells[2].outputs == []
    # No hang: well under the 60 s startup timeout (the figure itself is in BENCHMARKS.md).
    assert elapsed < 45


def test_timeout_interrupts_the_cell_and_exits_4(env: Env) -> None:
    nb_path = write_notebook(
        env.root / "n.ipynb", "print('quick')", "import time\ntime.sleep(60)", "print('never')"
    )
    result = env.gclog("run", str(nb_path), "--timeout", "1", timeout=60)
    assert result.returncode == 4, result.stderr
    assert "--timeout" in result.stderr
    records = env.records()
    cells = by_type(records, "cell")
    assert [c["status"] for c in cells] == ["ok", "interrupted"]
    assert cells[1]["duration_s"] >= 0.9
    assert records[-1]["reason"] == "timeout"
    out = read_nb(env.root / "n.gclog.ipynb")
    assert out.cells[1].metadata["gclog"]["status"] == "interrupted"
    assert out.cells[2].execution_count is None


def test_timeout_from_the_environment(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "import time\ntime.sleep(60)")
    result = env.gclog("run", str(nb_path), timeout=60, GCLOG_TIMEOUT="1")
    assert result.returncode == 4, result.stderr


def _start_and_wait_for(env: Env, nb_path: Path, marker: Path) -> subprocess.Popen[str]:
    proc = env.popen("run", str(nb_path))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the cell never started"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_ctrl_c_interrupts_records_writes_and_exits(
    env: Env, signum: signal.Signals, exit_code: int
) -> None:
    marker = env.root / "started"
    nb_path = write_notebook(
        env.root / "n.ipynb",
        "print('one')",
        f"import time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(60)",
        "print('never')",
    )
    proc = _start_and_wait_for(env, nb_path, marker)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    records = env.records()
    cells = by_type(records, "cell")
    assert [c["status"] for c in cells] == ["ok", "interrupted"]
    assert records[-1]["event_type"] == "session_end"
    assert records[-1]["reason"] == "interrupted"
    out = read_nb(env.root / "n.gclog.ipynb")
    assert out.cells[0].outputs[0].text == "one\n"
    assert out.cells[2].execution_count is None
    # The env fixture checks that no kernel process is left behind.


def test_kill_9_of_gclog_keeps_the_records_and_the_kernel_goes_too(env: Env) -> None:
    marker = env.root / "started"
    nb_path = write_notebook(
        env.root / "n.ipynb",
        "print('one')",
        "print('two')",
        f"import time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(60)",
    )
    proc = _start_and_wait_for(env, nb_path, marker)
    # The two finished cells are committed while the third runs (the record of a cell is made
    # while the next one runs, so on a loaded machine this takes a moment): not held to the end.
    deadline = time.monotonic() + 10
    while sum(r["event_type"] == "cell" for r in env.records()) < 2:
        assert time.monotonic() < deadline, "finished cells were not stored while the next ran"
        time.sleep(0.05)
    proc.kill()
    proc.communicate(timeout=10)
    records = [r for r in env.records() if r["event_type"] != "metrics"]
    assert [r["event_type"] for r in records] == ["session_start", "cell", "cell"]
    # ipykernel polls its parent (JPY_PARENT_PID) and exits when gclog is gone.
    assert env.wait_no_leftovers(timeout=15) == []


def test_checkpoints_are_always_a_whole_notebook(env: Env) -> None:
    """While gclog runs, any reader of the output sees a complete, valid notebook."""
    cells = [f"import time; time.sleep(0.05); print({i})" for i in range(60)]
    nb_path = write_notebook(env.root / "n.ipynb", *cells)
    out = env.root / "n.gclog.ipynb"
    proc = env.popen("run", str(nb_path))
    seen = 0
    while proc.poll() is None:
        if out.exists():
            nbformat.validate(nbformat.read(out, as_version=4))
            seen += 1
        time.sleep(0.01)
    assert proc.returncode == 0, proc.communicate()
    assert seen > 0, "a checkpoint should have been written during a multi-second run"
    assert not list(env.root.glob(".n.gclog.ipynb*")), "no temporary file is left behind"
    assert len(read_nb(out).cells) == 60


# -- bad input: one line on stderr, exit 2, no notebook written ------------------------------------


def _v3_notebook() -> dict[str, object]:
    return {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": "old"},
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": "print('from v3')",
                        "language": "python",
                        "outputs": [],
                        "metadata": {},
                    }
                ],
                "metadata": {},
            }
        ],
    }


BAD_FILES = {
    "invalid-json": ("bad.ipynb", "{ not json", "not valid JSON"),
    "not-a-notebook": ("data.ipynb", json.dumps({"hello": "world"}), "not a Jupyter notebook"),
    "json-list": ("list.ipynb", "[1, 2, 3]", "not a Jupyter notebook"),
    "malformed-notebook": (
        "broken.ipynb",
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "nope"}),
        "not a valid Jupyter notebook",
    ),
    "binary": ("blob.ipynb", b"\x89PNG\r\n\x1a\n\xff\xfe", "not UTF-8"),
    "future-version": (
        "future.ipynb",
        json.dumps({"nbformat": 9, "nbformat_minor": 0, "cells": []}),
        "newer",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_notebook_files(env: Env, case: str) -> None:
    name, content, expected = BAD_FILES[case]
    path = env.root / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = env.gclog("run", str(path))
    assert result.returncode == 2
    assert expected in one_line_error(result.stderr)
    assert not list(env.root.glob("*.gclog.ipynb"))
    assert env.records() == []


def test_missing_file(env: Env) -> None:
    result = env.gclog("run", str(env.root / "nowhere.ipynb"))
    assert result.returncode == 2
    assert "no such file" in one_line_error(result.stderr)


def test_directory_instead_of_a_notebook(env: Env) -> None:
    result = env.gclog("run", str(env.root))
    assert result.returncode == 2
    assert "is a directory" in one_line_error(result.stderr)


def test_unreadable_file(env: Env) -> None:
    path = write_notebook(env.root / "secret.ipynb", "print(1)")
    path.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        caps = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "gclog", "run", str(path)],
        env=env.vars,
        cwd=env.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "permission denied" in one_line_error(result.stderr)


def test_old_nbformat_is_upgraded_and_run(env: Env) -> None:
    path = env.root / "old.ipynb"
    path.write_text(json.dumps(_v3_notebook()))
    result = env.gclog("run", str(path))
    assert result.returncode == 0, result.stderr
    out = read_nb(env.root / "old.gclog.ipynb")
    assert out.nbformat == 4
    assert out.cells[0].outputs[0].text == "from v3\n"


def test_unknown_kernel(env: Env) -> None:
    path = write_notebook(env.root / "n.ipynb", "print(1)", kernel="julia-0.3")
    result = env.gclog("run", str(path))
    assert result.returncode == 2
    line = one_line_error(result.stderr)
    assert "no kernel named 'julia-0.3'" in line and "python3" in line
    assert not (env.root / "n.gclog.ipynb").exists()


@pytest.mark.parametrize(
    ("kernel", "expected"),
    [("missing-binary", "No such file"), ("exits-at-start", "no accelerator found")],
)
def test_kernel_that_fails_to_start(env: Env, kernel: str, expected: str) -> None:
    path = write_notebook(env.root / "n.ipynb", "print(1)", kernel=kernel)
    result = env.gclog("run", str(path), timeout=90)
    assert result.returncode == 2
    line = one_line_error(result.stderr)
    assert f"kernel {kernel!r} failed to start" in line and expected in line
    assert not (env.root / "n.gclog.ipynb").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--timeout", "-1"], "--timeout must be a positive"),
        (["-o", "/nonexistent-dir/out.ipynb"], "does not exist"),
        (["--cwd", "/nonexistent-dir"], "not a directory"),
    ],
)
def test_bad_options(env: Env, args: list[str], expected: str) -> None:
    path = write_notebook(env.root / "n.ipynb", "print(1)")
    result = env.gclog("run", str(path), *args)
    assert result.returncode == 2
    assert expected in one_line_error(result.stderr)


def test_bad_setting_in_the_environment(env: Env) -> None:
    path = write_notebook(env.root / "n.ipynb", "print(1)")
    result = env.gclog("run", str(path), GCLOG_PRIVACY="everything")
    assert result.returncode == 2
    assert "GCLOG_PRIVACY" in one_line_error(result.stderr)


def test_progress_bar_on_a_terminal(env: Env) -> None:
    import pty

    nb_path = write_notebook(env.root / "n.ipynb", "import time; time.sleep(0.3)", "1/0", "2")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gclog", "run", str(nb_path), "--allow-errors"],
        env={**env.vars, "TERM": "xterm-256color", "COLUMNS": "120"},
        cwd=env.root,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "3/3" in screen  # the bar reached the end
    assert "ZeroDivisionError" in screen  # the failing cell was called out as it happened
    assert "completed: 2 ok, 1 error" in screen
    assert "Traceback" not in screen


def test_an_unusable_gclog_home_is_one_line(env: Env) -> None:
    blocker = env.root / "not-a-directory"
    blocker.write_text("")
    path = write_notebook(env.root / "n.ipynb", "print(1)")
    result = env.gclog("run", str(path), GCLOG_HOME=str(blocker / "home"))
    assert result.returncode == 2
    one_line_error(result.stderr)


def test_load_ext_inside_gclog_run_does_not_record_twice_or_stop_the_run(env: Env) -> None:
    path = write_notebook(
        env.root / "n.ipynb", "%load_ext gclog", "print(1)", "%unload_ext gclog", "print(2)"
    )
    result = env.gclog("run", str(path), timeout=120)
    assert result.returncode == 0, result.stderr
    out = read_nb(env.root / "n.gclog.ipynb")
    assert "already observed by a `gclog run` session" in out.cells[0].outputs[-1].text
    assert out.cells[3].outputs[0].text == "2\n"
    records = env.records()
    assert {r["session_id"] for r in records} == {out.metadata["gclog"]["session_id"]}
    assert len(by_type(records, "cell")) == 4


def test_a_kernel_restart_during_a_run_is_recorded_as_attach_records_it(env: Env) -> None:
    """One observation for run and attach: a new kernel process behind the same connection (here
    the kernel exec()s a fresh one) is a `kernel restarted` record, the cell it cut short ends
    with DeadKernelError, and the run goes on with the new kernel."""
    restart = (
        "import os, sys\n"
        "from ipykernel.connect import get_connection_file\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', '-f',"
        " get_connection_file()])"
    )
    nb_path = write_notebook(env.root / "n.ipynb", "x = 1", restart, "print('x' in dir())")
    result = env.gclog("run", str(nb_path), "--allow-errors")
    assert result.returncode == 0, result.stderr
    assert "the kernel restarted; still observing" in result.stderr
    records = env.records()
    seen = [(r["event_type"], r.get("event") or r.get("status")) for r in records]
    assert [s for s in seen if s[0] in ("cell", "kernel")] == [
        ("cell", "ok"),
        ("cell", "error"),
        ("kernel", "restarted"),
        ("cell", "ok"),
    ]
    cut = by_type(records, "cell")[1]
    assert cut["error"] == {
        "ename": "DeadKernelError",
        "evalue": "the kernel restarted",
        "traceback": "",
    }
    assert by_type(records, "cell")[2]["output"]["stdout"] == "False\n"  # a fresh kernel
    out = nbformat.read(env.root / "n.gclog.ipynb", as_version=4)
    assert out.cells[1].outputs[-1].ename == "DeadKernelError"
