"""`gclog attach`: observing kernels that other clients drive, as front ends drive them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import psutil
import pytest
from helpers import (
    DrivenKernel,
    Env,
    by_type,
    cells_of,
    one_line_error,
    wait_for_cells,
    wait_for_session,
    write_notebook,
)


@pytest.fixture
def kernel(env: Env, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", env.vars["JUPYTER_RUNTIME_DIR"])
    driven = DrivenKernel(env)
    yield driven
    driven.shutdown()


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[int, str]:
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    return proc.returncode, stderr


def _reply_duration(reply: dict[str, object]) -> float:
    header = reply["header"]
    metadata = reply["metadata"]
    assert isinstance(header, dict) and isinstance(metadata, dict)
    started = metadata["started"]
    if isinstance(started, str):
        started = datetime.fromisoformat(started.replace("Z", "+00:00"))
    return (header["date"] - started).total_seconds()


def test_attach_records_every_cell_another_client_runs(env: Env, kernel: DrivenKernel) -> None:
    proc = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    replies = [
        kernel.execute("print('hello')"),
        kernel.execute("import time\ntime.sleep(0.4)"),
        kernel.execute("raise ValueError('nope')"),
        kernel.execute("x = 6 * 7\nx"),
    ]
    # Traffic that is not a cell: completion, inspection, kernel_info, a silent execution.
    kernel.client.complete("pri", 3)
    kernel.client.inspect("print", 5)
    kernel.client.kernel_info()
    kernel.execute("_ = 1", silent=True)
    wait_for_cells(env, entry["session_id"], 4)  # the silent one is in flight: the drain takes it
    code, stderr = stop(proc)
    assert code == 0, stderr
    records = env.records(entry["session_id"])
    cells = by_type(records, "cell")
    assert [c["code"] for c in cells] == [
        "print('hello')",
        "import time\ntime.sleep(0.4)",
        "raise ValueError('nope')",
        "x = 6 * 7\nx",
    ]
    assert [c["status"] for c in cells] == ["ok", "ok", "error", "ok"]
    assert [c["execution_count"] for c in cells] == [
        r["content"]["execution_count"] for r in replies
    ]
    assert cells[0]["output"]["stdout"] == "hello\n"
    assert cells[2]["error"]["ename"] == "ValueError"
    assert cells[3]["output"]["result"] == "42"
    for cell, reply in zip(cells, replies, strict=True):
        assert cell["source"] == "attach" and not cell["partial"]
        # Our busy→idle duration against the kernel's own execute_reply timing, and the client's.
        assert abs(cell["duration_s"] - _reply_duration(reply)) < 0.05
        assert abs(cell["duration_s"] - reply["_wall_s"]) < 0.05 + 0.05
    end = records[-1]
    assert end["event_type"] == "session_end" and end["reason"] == "detached"
    assert end["silent_executions"] == 1
    start = records[0]
    assert start["source"] == "attach" and start["kernel"]["name"] == "python3"
    # The kernel's process tree is sampled as `gclog run` samples it: for every cell but those
    # that began and ended during a burst's lag. The first two ran on their own (no burst yet
    # when the first ended; the second was still running when a lag was over).
    assert start["metrics"]["sources"]["process"]["on"]
    assert all(c["resources"]["cpu_seconds"] is not None for c in cells[:2])
    assert all(c["resources"]["cpu_seconds"] is not None for c in cells if "resources" in c)
    assert cells[1]["resources"]["cpu_seconds"] < 0.3  # asleep
    assert "observing kernel" in stderr and "4 cells recorded" in stderr


def test_a_burst_of_cells_is_taken_in_batches(env: Env, kernel: DrivenKernel) -> None:
    """Cells one after another (Run All, a loop of requests): every one is recorded, in order.
    Their messages are taken every BURST_LAG_S; a cell that began and ended within one lag has
    no resources (a reading after it, and after its neighbours, is not its own); a long one
    keeps them."""
    from gclog.observe.observation import BURST_LAG_S

    proc = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    codes = [f"x = {i}" for i in range(40)]
    codes.insert(20, "import time\ntime.sleep(0.5)")
    for code in codes:
        kernel.execute(code)
    wait_for_cells(env, entry["session_id"], len(codes))
    assert stop(proc)[0] == 0
    cells = by_type(env.records(entry["session_id"]), "cell")
    assert [c["code"] for c in cells] == codes
    assert all(c["status"] == "ok" and not c["partial"] for c in cells)
    assert cells[20]["resources"]["cpu_seconds"] is not None
    taken_in_a_lag = [c for c in cells if "resources" not in c]
    assert taken_in_a_lag, "cells one after another are a burst"
    assert all(c["duration_s"] < BURST_LAG_S + 0.05 for c in taken_in_a_lag)


def test_cells_run_by_hand_are_each_taken_as_they_end(env: Env, kernel: DrivenKernel) -> None:
    """Someone running cells one by one is no burst: every cell keeps its resources."""
    from gclog.observe.observation import BURST_GAP_S

    proc = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    for i in range(4):
        kernel.execute(f"x = {i}")
        time.sleep(BURST_GAP_S + 0.2)
    wait_for_cells(env, entry["session_id"], 4)
    assert stop(proc)[0] == 0
    cells = by_type(env.records(entry["session_id"]), "cell")
    assert [c["code"] for c in cells] == [f"x = {i}" for i in range(4)]
    assert all(c["resources"]["cpu_seconds"] is not None for c in cells)


def test_attach_never_sends_anything_to_the_kernel(env: Env, kernel: DrivenKernel) -> None:
    before = kernel.execute("1").get("content", {}).get("execution_count")
    proc = env.popen("attach", str(kernel.connection_file))
    wait_for_session(env)
    time.sleep(0.5)  # a window for it to misbehave in: there is nothing to wait for
    stop(proc)
    # Had gclog executed anything, the kernel's execution counter would have moved.
    assert kernel.execute("2")["content"]["execution_count"] == before + 1


def test_attaching_in_the_middle_of_a_cell_records_a_partial_cell(
    env: Env, kernel: DrivenKernel
) -> None:
    # Long enough for `gclog attach` to start and subscribe on a loaded machine (seconds).
    msg_id = kernel.client.execute(
        "import time\nfor i in range(80):\n    print(i, flush=True)\n    time.sleep(0.1)"
    )
    while True:  # the cell is under way once it prints
        msg = kernel.client.get_iopub_msg(timeout=60)
        if msg["msg_type"] == "stream" and msg["parent_header"].get("msg_id") == msg_id:
            break
    proc = env.popen("attach", kernel.kernel_id[:8])
    entry = wait_for_session(env)
    while True:
        reply = kernel.client.get_shell_msg(timeout=60)
        if reply["parent_header"]["msg_id"] == msg_id:
            break
    wait_for_cells(env, entry["session_id"], 1)
    stop(proc)
    (cell,) = cells_of(env, entry["session_id"])
    assert cell["partial"] is True
    assert cell["code"] is None  # never invented
    assert cell["output"]["stdout"].rstrip().endswith("79")
    assert not cell["output"]["stdout"].startswith("0\n")


def test_aborted_cells_after_an_error_are_recorded_without_code(
    env: Env, kernel: DrivenKernel
) -> None:
    proc = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    ids = [kernel.client.execute(code) for code in ("1/0", "print('a')", "print('b')")]
    seen: set[str] = set()
    while not set(ids) <= seen:  # earlier replies (kernel_info at start) may be queued too
        msg = kernel.client.get_shell_msg(timeout=60)
        seen.add(msg["parent_header"]["msg_id"])
    wait_for_cells(env, entry["session_id"], 3)
    stop(proc)
    cells = cells_of(env, entry["session_id"])
    assert [c["status"] for c in cells] == ["error", "aborted", "aborted"]
    assert [c["code"] for c in cells] == ["1/0", None, None]


def test_kernel_restart_is_recorded_and_observation_continues(
    env: Env, kernel: DrivenKernel
) -> None:
    proc = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    kernel.execute("print('before')")
    old_pid = kernel.pid
    kernel.manager.restart_kernel(now=False)
    kernel.client.wait_for_ready(timeout=60)
    assert kernel.pid != old_pid
    kernel.execute("print('after')")
    wait_for_cells(env, entry["session_id"], 2)
    code, stderr = stop(proc)
    assert code == 0, stderr
    records = env.records(entry["session_id"])
    assert [
        (r["event_type"], r.get("event")) for r in records if r["event_type"] in ("cell", "kernel")
    ] == [("cell", None), ("kernel", "restarted"), ("cell", None)]
    assert [c["output"]["stdout"] for c in by_type(records, "cell")] == ["before\n", "after\n"]


def test_a_forked_worker_that_prints_is_part_of_its_cell(env: Env, kernel: DrivenKernel) -> None:
    """multiprocessing's fork workers send their output with their own pid in the msg_id: that
    is the cell's output, not a restarted kernel."""
    proc = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    kernel.execute(
        "import multiprocessing, sys\n"
        "def f(i):\n"
        "    sys.stdout.write(f'worker {i}\\n')  # one write: two workers' lines do not mix\n"
        "    sys.stdout.flush()\n"
        "    return i\n"
        "with multiprocessing.get_context('fork').Pool(2) as pool:\n"
        "    print(pool.map(f, range(4)))"
    )
    kernel.execute("print('next')")
    wait_for_cells(env, entry["session_id"], 2)
    code, stderr = stop(proc)
    assert code == 0, stderr
    records = env.records(entry["session_id"])
    assert by_type(records, "kernel") == []
    first, second = by_type(records, "cell")
    assert (first["status"], first["partial"], second["status"]) == ("ok", False, "ok")
    printed = first["output"]["stdout"]
    assert sorted(line for line in printed.splitlines() if line.startswith("worker")) == [
        f"worker {i}" for i in range(4)
    ]
    assert printed.endswith("[0, 1, 2, 3]\n")
    assert second["output"]["stdout"] == "next\n"


def test_kernel_death_while_observed_ends_the_session(env: Env, kernel: DrivenKernel) -> None:
    proc = env.popen("attach", kernel.kernel_id, env={"GCLOG_RESTART_GRACE": "2"})
    entry = wait_for_session(env)
    kernel.execute("print('alive')")
    kernel.client.execute("import os; os._exit(1)")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr
    records = env.records(entry["session_id"])
    assert ("kernel", "died") in [(r["event_type"], r.get("event")) for r in records]
    assert records[-1]["reason"] == "kernel_died"
    assert by_type(records, "cell")[0]["output"]["stdout"] == "alive\n"


def test_kernel_shutdown_ends_the_session_cleanly(env: Env, kernel: DrivenKernel) -> None:
    proc = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    kernel.execute("1")
    kernel.manager.shutdown_kernel(now=False)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    records = env.records(entry["session_id"])
    assert [r.get("event") for r in by_type(records, "kernel")] == ["shutdown"]
    assert records[-1]["reason"] == "completed"


def test_attaching_twice_says_so_and_does_not_double_record(env: Env, kernel: DrivenKernel) -> None:
    first = env.popen("attach", kernel.kernel_id)
    entry = wait_for_session(env)
    second = env.gclog("attach", kernel.kernel_id, timeout=60)
    assert second.returncode == 0
    assert "already observed by session " + entry["session_id"] in second.stderr
    kernel.execute("print('once')")
    wait_for_cells(env, entry["session_id"], 1)
    stop(first)
    records = env.records()
    assert len({r["session_id"] for r in records}) == 1
    assert len(by_type(records, "cell")) == 1


def test_detach_status_and_stop(env: Env, kernel: DrivenKernel) -> None:
    started = env.gclog("attach", kernel.kernel_id, "--detach", timeout=60)
    assert started.returncode == 0, started.stderr
    assert "in the background" in started.stderr
    session_id = started.stderr.split("(session ")[1].split(",")[0]
    kernel.execute("print('seen in the background')")
    deadline = time.monotonic() + 30
    while True:  # the registry entry is refreshed every couple of seconds, not every cell
        state = json.loads(env.gclog("status", "--json").stdout)
        (live,) = state["sessions"]
        if live["cells"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert live["session_id"] == session_id and live["source"] == "attach" and live["alive"]
    assert live["cells"] == 1 and live["kernel_id"] == kernel.kernel_id
    assert state["unobserved_kernels"] == []
    table = env.gclog("status")
    assert session_id[:8] in table.stdout and "Live sessions" in table.stdout
    stopped = env.gclog("stop", session_id[:8], timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    records = env.records(session_id)
    assert records[-1]["reason"] == "detached"
    assert json.loads(env.gclog("status", "--json").stdout)["sessions"] == []


def test_status_lists_kernels_nobody_observes_and_cleans_up_dead_sessions(
    env: Env, kernel: DrivenKernel
) -> None:
    sessions = env.home / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "dead-session.json").write_text(
        json.dumps(
            {
                "session_id": "dead-session",
                "source": "attach",
                "pid": 999_999_999,
                "pid_started": 0.0,
                "started_at": 0.0,
            }
        )
    )
    # An entry written by a newer gclog, with a field this one does not know: still listed.
    me = psutil.Process()
    newer = {
        "session_id": "newer-session",
        "source": "attach",
        "pid": me.pid,
        "pid_started": me.create_time(),
        "started_at": 0.0,
        "from_the_future": {"x": 1},
    }
    (sessions / "newer-session.json").write_text(json.dumps(newer))
    for _ in range(2):  # status only reads: the dead entry is reported each time, not deleted
        state = json.loads(env.gclog("status", "--json").stdout)
        assert [s["session_id"] for s in state["dead_sessions"]] == ["dead-session"]
        assert (sessions / "dead-session.json").exists()
    (listed,) = state["sessions"]
    assert listed["session_id"] == "newer-session" and listed["from_the_future"] == {"x": 1}
    assert "newer-se" in env.gclog("status").stdout
    (unobserved,) = state["unobserved_kernels"]
    assert unobserved["kernel_id"] == kernel.kernel_id and unobserved["pid"] == kernel.pid
    assert unobserved["attach"] == f"gclog attach {kernel.kernel_id}"
    text = env.gclog("status").stdout
    assert f"gclog attach {kernel.kernel_id}" in text
    # A session starting removes the dead entry, and leaves the live one alone.
    run = env.gclog("run", str(write_notebook(env.root / "n.ipynb", "1")))
    assert run.returncode == 0, run.stderr
    assert not (sessions / "dead-session.json").exists()
    assert (sessions / "newer-session.json").exists()


# -- bad targets: one line, exit 2 ---------------------------------------------------------------------


def test_unknown_kernel_id(env: Env) -> None:
    result = env.gclog("attach", "0123456789abcdef")
    assert result.returncode == 2
    assert "no kernel matches" in one_line_error(result.stderr)


def test_ambiguous_prefix(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Path(env.vars["JUPYTER_RUNTIME_DIR"])
    runtime.mkdir(parents=True)
    for kid in ("abc11111", "abc22222"):
        (runtime / f"kernel-{kid}.json").write_text("{}")
    result = env.gclog("attach", "abc")
    assert result.returncode == 2
    assert "matches 2 kernels" in one_line_error(result.stderr)


def test_stale_connection_file(env: Env) -> None:
    runtime = Path(env.vars["JUPYTER_RUNTIME_DIR"])
    runtime.mkdir(parents=True)
    stale = runtime / "kernel-stale.json"
    stale.write_text(
        json.dumps(
            {
                "ip": "127.0.0.1",
                "transport": "tcp",
                "iopub_port": 1,
                "hb_port": 2,
                "shell_port": 3,
                "control_port": 4,
                "stdin_port": 5,
                "key": "k",
                "signature_scheme": "hmac-sha256",
            }
        )
    )
    result = env.gclog("attach", "stale")
    assert result.returncode == 2
    assert "not running" in one_line_error(result.stderr)


def test_connection_file_that_is_not_json(env: Env) -> None:
    path = env.root / "kernel-broken.json"
    path.write_text("ports: many")
    result = env.gclog("attach", str(path))
    assert result.returncode == 2
    assert "not a kernel connection file" in one_line_error(result.stderr)


def test_no_kernel_named(env: Env) -> None:
    result = env.gclog("attach")
    assert result.returncode == 2
    assert "--existing" in one_line_error(result.stderr)
    none = env.gclog("attach", "--existing")
    assert none.returncode == 2 and "no kernels found" in one_line_error(none.stderr)


def test_existing_picks_the_most_recent_kernel(env: Env, kernel: DrivenKernel) -> None:
    proc = env.popen("attach", "--existing")
    entry = wait_for_session(env)
    assert entry["kernel_id"] == kernel.kernel_id
    stop(proc)


def test_stop_unknown_session(env: Env) -> None:
    result = env.gclog("stop", "nope")
    assert result.returncode == 2
    assert "no session matches" in one_line_error(result.stderr)


def test_a_kernel_gclog_run_owns_is_not_observed_twice(env: Env) -> None:
    from helpers import write_notebook

    marker = env.root / "started"
    nb = write_notebook(
        env.root / "n.ipynb", f"import time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(60)"
    )
    run = env.popen("run", str(nb))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    second = env.gclog("attach", "--existing", timeout=60)
    assert second.returncode == 0
    assert "already observed by session" in second.stderr
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=30)
    assert {r["source"] for r in env.records()} == {"run"}


def test_detach_honours_opting_out(env: Env, kernel: DrivenKernel) -> None:
    result = env.gclog("attach", kernel.kernel_id, "--detach", GCLOG_DISABLED="1")
    assert result.returncode == 0
    assert "recording is off (GCLOG_DISABLED=1)" in result.stderr
    assert "in the background" not in result.stderr
    assert not env.home.exists()
