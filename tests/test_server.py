"""A real `jupyter server`: kernels driven through its REST API and websocket, as JupyterLab does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest
import websocket
from helpers import Env, by_type, wait_for_session, write_notebook

TOKEN = "gclog-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, env: Env) -> None:
        self.port = free_port()
        self.root = env.root / "work"
        self.root.mkdir()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                f"--port={self.port}",
                f"--IdentityProvider.token={TOKEN}",
                "--allow-root",
                f"--ServerApp.root_dir={self.root}",
                "--ServerApp.ip=127.0.0.1",
            ],
            env=env.vars,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                assert self.process.poll() is None, "jupyter server exited"
                assert time.monotonic() < deadline, "jupyter server did not start"
                time.sleep(0.2)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Frontend:
    """Speaks the kernel websocket protocol like JupyterLab: JSON messages with a channel."""

    def __init__(self, server: Server, kernel_id: str, timeout: float = 60) -> None:
        self.session = uuid.uuid4().hex
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
            f"?session_id={self.session}&token={TOKEN}",
            timeout=timeout,
        )

    def send(self, code: str, cell_id: str | None = None) -> str:
        """Send an execute_request as JupyterLab does (its cell's id in the metadata); its msg_id."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": self.session,
                        "username": "lab",
                        "version": "5.3",
                        "date": datetime.now(timezone.utc).isoformat(),
                    },
                    "parent_header": {},
                    "metadata": {"cellId": cell_id} if cell_id else {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        return msg_id

    def execute(self, code: str, cell_id: str | None = None) -> dict[str, Any]:
        """Send a cell; the execute_reply once the kernel has gone idle after it."""
        msg_id = self.send(code, cell_id)
        reply, idle = None, False
        while reply is None or not idle:
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "execute_reply":
                reply = msg
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        return reply

    def close(self) -> None:
        self.ws.close()


def reconnect(
    server: Server, kernel_id: str, code: str, cell_id: str | None = None
) -> tuple[Frontend, dict[str, Any]]:
    """Reconnect as JupyterLab does until the (restarted) kernel runs ``code``; its reply."""
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, "the kernel did not come back"
        time.sleep(0.5)
        lab = None
        try:
            lab = Frontend(server, kernel_id, timeout=10)
            return lab, lab.execute(code, cell_id)
        except Exception:
            if lab is not None:
                lab.close()


@pytest.fixture
def server(env: Env) -> Iterator[Server]:
    running = Server(env)
    yield running
    running.stop()


def _duration(reply: dict[str, Any]) -> float:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return (parse(reply["header"]["date"]) - parse(reply["metadata"]["started"])).total_seconds()


def test_attach_records_what_a_jupyterlab_style_client_runs(env: Env, server: Server) -> None:
    write_notebook(server.root / "analysis.ipynb", "print(1)")
    session = server.api(
        "POST",
        "/api/sessions",
        {
            "path": "analysis.ipynb",
            "type": "notebook",
            "name": "analysis.ipynb",
            "kernel": {"name": "python3"},
        },
    )
    kernel_id = session["kernel"]["id"]
    lab = Frontend(server, kernel_id)
    lab.execute("1")  # the kernel is up and answering
    proc = env.popen(
        "attach", kernel_id, env={"JUPYTER_RUNTIME_DIR": env.vars["JUPYTER_RUNTIME_DIR"]}
    )
    entry = wait_for_session(env)
    assert entry["notebook"] == str(server.root / "analysis.ipynb")
    replies = [
        lab.execute("total = sum(range(10))\nprint(total)"),
        lab.execute("import time; time.sleep(0.3)"),
        lab.execute("{}['missing']"),
    ]
    # A crash: jupyter_server's restarter brings the kernel back; observation goes on.
    lab.send("import os; os._exit(1)")
    lab.close()
    lab, after = reconnect(server, kernel_id, "print('after the crash')")
    time.sleep(1.0)
    proc.send_signal(2)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    lab.close()
    records = env.records(entry["session_id"])
    cells = by_type(records, "cell")
    assert [c["code"] for c in cells[:3]] == [
        "total = sum(range(10))\nprint(total)",
        "import time; time.sleep(0.3)",
        "{}['missing']",
    ]
    assert [c["status"] for c in cells[:3]] == ["ok", "ok", "error"]
    assert cells[0]["output"]["stdout"] == "45\n"
    assert cells[2]["error"]["ename"] == "KeyError"
    for cell, reply in zip(cells[:3], replies, strict=True):
        assert abs(cell["duration_s"] - _duration(reply)) < 0.05
    events = [r.get("event") for r in by_type(records, "kernel")]
    assert events == ["died", "restarted"]
    assert cells[-1]["output"]["stdout"] == "after the crash\n"
    assert after["content"]["status"] == "ok"
    assert records[0]["notebook"]["name"] == "analysis.ipynb"
    assert Path(entry["notebook"]).name == "analysis.ipynb"


def _status(env: Env) -> dict[str, Any]:
    result = env.gclog("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_extension_in_jupyterlab_survives_a_restart_and_unloads_after_it(
    env: Env, server: Server
) -> None:
    """%load_ext, Kernel > Restart (the REST call JupyterLab makes), %unload_ext in the new
    kernel: recording stops, and every record says what happened."""
    import platform

    write_notebook(
        server.root / "lab.ipynb", "%load_ext gclog", "print(1)", "print('after')", "# notes"
    )
    session = server.api(
        "POST",
        "/api/sessions",
        {
            "path": "lab.ipynb",
            "type": "notebook",
            "name": "lab.ipynb",
            "kernel": {"name": "python3"},
        },
    )
    kernel_id = session["kernel"]["id"]
    lab = Frontend(server, kernel_id)
    loaded = lab.execute("%load_ext gclog", cell_id="cell-load")
    assert loaded["content"]["status"] == "ok"
    entry = wait_for_session(env)
    sidecar = psutil.Process(entry["pid"])
    lab.execute("print(1)", cell_id="cell-print")
    old_pid = entry["kernel_pid"]
    server.api("POST", f"/api/kernels/{kernel_id}/restart")
    lab.close()
    lab, _ = reconnect(server, kernel_id, "print('after')", "cell-after")
    deadline = time.monotonic() + 30
    while True:  # the live entry follows the new kernel process
        live = _status(env)["sessions"]
        assert [s["session_id"] for s in live] == [entry["session_id"]]
        if live[0]["kernel_pid"] not in (None, old_pid):
            break
        assert time.monotonic() < deadline, f"status kept the old kernel pid {old_pid}"
        time.sleep(0.2)
    assert psutil.pid_exists(live[0]["kernel_pid"]) and not psutil.pid_exists(old_pid)
    lab.execute("%unload_ext gclog", cell_id="cell-unload")
    sidecar.wait(timeout=30)  # recording stopped: the sidecar ended
    lab.close()
    assert _status(env)["sessions"] == []
    records = env.records(entry["session_id"])
    start = records[0]
    assert start["kernel"]["language_version"] == platform.python_version()
    assert start["kernel"]["implementation"] == "ipython"
    assert (start["notebook"]["name"], start["notebook"]["code_cells"]) == ("lab.ipynb", 4)
    cells = by_type(records, "cell")
    assert [c["code"] for c in cells] == [
        "%load_ext gclog",
        "print(1)",
        "print('after')",
        "%unload_ext gclog",
    ]
    assert cells[0]["cell_id"] == "cell-load" and not cells[0]["partial"]
    assert [r.get("event") for r in by_type(records, "kernel")] == ["restarted"]
    assert records[-1]["event_type"] == "session_end" and records[-1]["reason"] == "unloaded"


def test_a_death_in_attach_says_which_cell_and_how_long_it_ran(env: Env, server: Server) -> None:
    write_notebook(
        server.root / "d.ipynb", "x = 1", "import os, time; time.sleep(0.5); os._exit(1)"
    )
    session = server.api(
        "POST",
        "/api/sessions",
        {"path": "d.ipynb", "type": "notebook", "name": "d.ipynb", "kernel": {"name": "python3"}},
    )
    kernel_id = session["kernel"]["id"]
    lab = Frontend(server, kernel_id)
    lab.execute("x = 1")
    proc = env.popen(
        "attach",
        kernel_id,
        env={"JUPYTER_RUNTIME_DIR": env.vars["JUPYTER_RUNTIME_DIR"], "GCLOG_RESTART_GRACE": "1"},
    )
    entry = wait_for_session(env)
    lab.send("import os, time; time.sleep(0.5); os._exit(1)")
    deadline = time.monotonic() + 60
    while not any(r.get("event") == "died" for r in env.records(entry["session_id"])):
        assert time.monotonic() < deadline, "no death recorded"
        time.sleep(0.2)
    proc.send_signal(2)
    proc.communicate(timeout=60)
    lab.close()
    records = env.records(entry["session_id"])
    died = next(r for r in records if r.get("event") == "died")
    assert died["cell_index"] == 1
    cut = [
        c
        for c in by_type(records, "cell")
        if (c.get("error") or {}).get("ename") == "DeadKernelError"
    ]
    assert len(cut) == 1 and cut[0]["index"] == 1
    assert cut[0]["duration_s"] is not None and cut[0]["duration_s"] >= 0.5
