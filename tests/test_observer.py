"""The iopub observer on message sequences as ipykernel sends them (and as it sometimes doesn't)."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gclog.observe.observer import Execution, KernelRestarted, Observer
from gclog.privacy.filter import PrivacyFilter

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
_counter = itertools.count()


class FakeKernel:
    """Builds iopub messages as ipykernel does: msg_ids "<session>_<pid>_<n>", dated headers."""

    def __init__(self, identity: str = "k1_100") -> None:
        self.identity = identity
        self.clock = T0

    def msg(
        self, msg_type: str, content: dict[str, Any], parent: dict[str, Any], after_ms: float = 1
    ) -> dict[str, Any]:
        self.clock += timedelta(milliseconds=after_ms)
        return {
            "header": {
                "msg_id": f"{self.identity}_{next(_counter)}",
                "msg_type": msg_type,
                "date": self.clock,
            },
            "msg_type": msg_type,
            "parent_header": parent,
            "content": content,
            "metadata": {},
        }

    def request(self, msg_type: str = "execute_request") -> dict[str, Any]:
        return {"msg_id": f"client-{next(_counter)}", "msg_type": msg_type, "date": self.clock}

    def cell(
        self, code: str, outputs: list[tuple[str, dict[str, Any]]], busy_ms: float = 10
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        parent = self.request()
        msgs = [
            self.msg("status", {"execution_state": "busy"}, parent, after_ms=2),
            self.msg("execute_input", {"code": code, "execution_count": 1}, parent),
        ]
        msgs += [self.msg(kind, content, parent) for kind, content in outputs]
        msgs.append(self.msg("status", {"execution_state": "idle"}, parent, after_ms=busy_ms))
        return parent, msgs


def feed(observer: Observer, msgs: list[dict[str, Any]]) -> list[Any]:
    return [r for r in (observer.handle(m) for m in msgs) if r is not None]


def stream(text: str, name: str = "stdout") -> tuple[str, dict[str, Any]]:
    return ("stream", {"name": name, "text": text})


def test_a_cell_is_finished_at_idle_with_timings_from_header_dates() -> None:
    kernel = FakeKernel()
    parent, msgs = kernel.cell("print('hi')", [stream("hi\n")], busy_ms=250)
    done = feed(Observer(), msgs)
    assert len(done) == 1
    execution = done[0]
    assert isinstance(execution, Execution)
    assert execution.msg_id == parent["msg_id"]
    assert execution.status == "ok" and not execution.partial
    assert execution.code == "print('hi')" and execution.execution_count == 1
    # busy came 2 ms after the request; idle 1 + 1 + 250 ms after busy
    assert execution.queue_wait_s == 0.002
    assert execution.duration_s == 0.252
    fields = execution.cell_fields()
    assert fields["output"]["stdout"] == "hi\n"
    assert fields["code_lines"] == 1
    assert fields["code_sha256"] is None  # the observer never hashes code it has not scrubbed
    filtered = PrivacyFilter("full")({"event_type": "cell", **fields})
    assert filtered["code_sha256"] == hashlib.sha256(b"print('hi')").hexdigest()


def test_the_privacy_filter_cannot_be_skipped(tmp_path: Path) -> None:
    """A Session needs its record filter; the hash of a secret's cell is of the scrubbed code."""
    from gclog.identity import Identity
    from gclog.pipeline.session import Session
    from gclog.store.store import Store

    store, identity = Store(tmp_path / "s.db"), Identity.load_or_create(tmp_path / "id")
    with pytest.raises(TypeError):
        Session("run", store, identity)  # type: ignore[call-arg]
    code = "password = 'hunter2-correct-horse'"
    kernel = FakeKernel()
    _, msgs = kernel.cell(code, [])
    (execution,) = feed(Observer(), msgs)
    session = Session("run", store, identity, record_filter=PrivacyFilter("full"))
    record = session.cell(execution.cell_fields())
    assert session.close(10) == []  # stored before the store closes (no writer left retrying)
    store.close()
    assert "hunter2" not in json.dumps(record)
    assert record["code_sha256"] != hashlib.sha256(code.encode()).hexdigest()
    assert record["code_sha256"] == hashlib.sha256(record["code"].encode()).hexdigest()


def test_other_requests_are_ignored() -> None:
    kernel = FakeKernel()
    observer = Observer()
    for request in ("complete_request", "inspect_request", "kernel_info_request"):
        parent = kernel.request(request)
        assert (
            feed(
                observer,
                [
                    kernel.msg("status", {"execution_state": "busy"}, parent),
                    kernel.msg("status", {"execution_state": "idle"}, parent),
                ],
            )
            == []
        )
    assert observer.running == {}


def test_error_and_interrupt_statuses_and_ansi_free_tracebacks() -> None:
    kernel = FakeKernel()
    error = {
        "ename": "ValueError",
        "evalue": "bad \x1b[1mthing\x1b[0m",
        "traceback": ["\x1b[0;31mValueError\x1b[0m: bad", "line 2"],
    }
    _, msgs = kernel.cell("raise ValueError", [("error", error)])
    (execution,) = feed(Observer(), msgs)
    assert execution.status == "error"
    info = execution.cell_fields()["error"]
    assert info == {
        "ename": "ValueError",
        "evalue": "bad thing",
        "traceback": "ValueError: bad\nline 2",
    }

    interrupt = {"ename": "KeyboardInterrupt", "evalue": "", "traceback": []}
    _, msgs = kernel.cell("while True: pass", [("error", interrupt)])
    (execution,) = feed(Observer(), msgs)
    assert execution.status == "interrupted"


def test_busy_idle_without_input_never_gets_invented_code() -> None:
    kernel = FakeKernel()
    parent = kernel.request()
    (execution,) = feed(
        Observer(),
        [
            kernel.msg("status", {"execution_state": "busy"}, parent),
            kernel.msg("status", {"execution_state": "idle"}, parent),
        ],
    )
    assert execution.code is None and execution.silent  # a silent=True request: not a cell
    fields = execution.cell_fields()
    assert fields["code"] is None and fields["code_sha256"] is None and fields["code_lines"] is None


def test_requests_queued_before_an_error_are_aborted_later_ones_are_silent() -> None:
    kernel = FakeKernel()
    observer = Observer()
    queued = [kernel.request(), kernel.request()]  # "run all": sent before the first one fails
    failing, msgs = kernel.cell(
        "1/0", [("error", {"ename": "ZeroDivisionError", "evalue": "", "traceback": []})]
    )
    assert failing["date"] >= queued[1]["date"]
    (failed,) = feed(observer, msgs)
    assert failed.status == "error"
    for parent in queued:
        (aborted,) = feed(
            observer,
            [
                kernel.msg("status", {"execution_state": "busy"}, parent),
                kernel.msg("status", {"execution_state": "idle"}, parent),
            ],
        )
        assert aborted.status == "aborted" and not aborted.silent and aborted.code is None
    later = kernel.request()  # a variable explorer polling after the error was shown
    (poll,) = feed(
        observer,
        [
            kernel.msg("status", {"execution_state": "busy"}, later),
            kernel.msg("status", {"execution_state": "idle"}, later),
        ],
    )
    assert poll.silent


@pytest.mark.parametrize("skew", [timedelta(hours=1), timedelta(hours=-1)])
def test_aborted_and_silent_are_told_apart_on_the_kernels_clock(skew: timedelta) -> None:
    """A client whose clock is an hour off the kernel's (a remote kernel): the same answers."""
    kernel = FakeKernel()
    observer = Observer()

    def request() -> dict[str, Any]:
        parent = kernel.request()
        parent.update(date=parent["date"] + skew, session="lab-1")
        return parent

    def no_input(parent: dict[str, Any]) -> Any:
        (execution,) = feed(
            observer,
            [
                kernel.msg("status", {"execution_state": "busy"}, parent),
                kernel.msg("status", {"execution_state": "idle"}, parent),
            ],
        )
        return execution

    first = request()
    (ok,) = feed(
        observer,
        [
            kernel.msg("status", {"execution_state": "busy"}, first, after_ms=2),
            kernel.msg("execute_input", {"code": "1", "execution_count": 1}, first),
            kernel.msg("status", {"execution_state": "idle"}, first),
        ],
    )
    assert ok.status == "ok"
    failing, queued = request(), [request(), request()]  # run all: sent together
    error = ("error", {"ename": "ZeroDivisionError", "evalue": "", "traceback": []})
    feed(
        observer,
        [
            kernel.msg("status", {"execution_state": "busy"}, failing, after_ms=2),
            kernel.msg("execute_input", {"code": "1/0", "execution_count": 2}, failing),
            kernel.msg(*error, failing),
            kernel.msg("status", {"execution_state": "idle"}, failing, after_ms=50),
        ],
    )
    for parent in queued:
        aborted = no_input(parent)
        assert aborted.status == "aborted" and not aborted.silent
    kernel.clock += timedelta(milliseconds=20)  # the error is shown; a variable explorer polls
    assert no_input(request()).silent


def test_attaching_in_the_middle_of_a_cell_gives_a_partial_record() -> None:
    kernel = FakeKernel()
    _, msgs = kernel.cell(
        "for i in range(3): print(i)", [stream("0\n"), stream("1\n"), stream("2\n")]
    )
    (execution,) = feed(Observer(keep_outputs=False), msgs[3:])  # missed busy, input, first line
    assert execution.partial and execution.code is None
    assert execution.started_at is None and execution.duration_s is None
    assert execution.status == "ok"
    assert execution.cell_fields()["output"]["stdout"] == "1\n2\n"


def test_streams_merge_and_clear_output_wait_clears_before_the_next_output() -> None:
    kernel = FakeKernel()
    _, msgs = kernel.cell(
        "progress",
        [
            stream("a"),
            stream("b"),
            stream("err", "stderr"),
            stream("c"),
            ("clear_output", {"wait": True}),
            stream("final\n"),
        ],
    )
    (execution,) = feed(Observer(), msgs)
    assert [o["text"] for o in execution.outputs] == ["final\n"]

    _, msgs = kernel.cell("merge", [stream("a"), stream("b"), stream("e", "stderr"), stream("c")])
    (execution,) = feed(Observer(), msgs)
    assert [(o["name"], o["text"]) for o in execution.outputs] == [
        ("stdout", "ab"),
        ("stderr", "e"),
        ("stdout", "c"),
    ]


def test_update_display_data_updates_the_earlier_output() -> None:
    kernel = FakeKernel()
    observer = Observer()
    display = {"data": {"text/plain": "0%"}, "metadata": {}, "transient": {"display_id": "bar"}}
    _, first = kernel.cell("h = display('0%', display_id=True)", [("display_data", display)])
    (cell1,) = feed(observer, first)
    update = {"data": {"text/plain": "100%"}, "metadata": {}, "transient": {"display_id": "bar"}}
    _, second = kernel.cell("h.update('100%')", [("update_display_data", update)])
    (cell2,) = feed(observer, second)
    assert cell1.outputs[0]["data"]["text/plain"] == "100%"
    assert cell2.outputs == []


def test_images_are_summarised_by_size_and_hash_only() -> None:
    kernel = FakeKernel()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    data = {
        "image/png": base64.b64encode(png).decode(),
        "text/plain": "<Figure size 640x480>",
        "text/html": "<img src='data:image/png;base64,AAAA'>",
    }
    _, msgs = kernel.cell("plot()", [("display_data", {"data": data, "metadata": {}})])
    (execution,) = feed(Observer(), msgs)
    summary = execution.cell_fields()["output"]
    assert summary["images"] == [
        {"mime": "image/png", "bytes": len(png), "sha256": hashlib.sha256(png).hexdigest()}
    ]
    assert summary["bytes_by_mime"]["image/png"] == len(png)
    assert summary["result"] == "<Figure size 640x480>"
    assert "base64" not in str(summary)  # HTML is counted, never excerpted


def test_huge_output_is_compacted_without_a_notebook_and_excerpted_in_the_record() -> None:
    kernel = FakeKernel()
    chunk = "x" * 100_000 + "\n"
    _, msgs = kernel.cell("spam()", [stream(chunk) for _ in range(50)] + [stream("THE END\n")])
    (execution,) = feed(Observer(keep_outputs=False), msgs)
    assert len(execution.outputs[0]["text"]) < 1_100_000
    # The record's excerpt is cut by the privacy filter (which scrubs before it cuts).
    record = PrivacyFilter("full")({"event_type": "cell", **execution.cell_fields()})
    stdout = record["output"]["stdout"]
    assert len(stdout) <= 8 * 1024 and stdout.endswith("THE END\n") and "characters cut" in stdout


def test_a_new_kernel_identity_means_a_restart() -> None:
    observer = Observer()
    first, second = FakeKernel("aaa_1"), FakeKernel("bbb_2")
    _, msgs = first.cell("1", [])
    feed(observer, msgs)
    starting = second.msg("status", {"execution_state": "starting"}, {})
    (event,) = feed(observer, [starting])
    assert isinstance(event, KernelRestarted)
    assert (event.previous, event.current) == ("aaa", "bbb")  # the kernels' sessions
    _, msgs = second.cell("2", [])
    assert [type(e) for e in feed(observer, msgs)] == [Execution]


def test_a_forked_childs_output_is_no_restart() -> None:
    """A multiprocessing worker (fork) that prints sends with the kernel's session and its own
    pid: its output belongs to the running cell."""
    observer = Observer()
    kernel, child = FakeKernel("aaa_1"), FakeKernel("aaa_2")
    parent, msgs = kernel.cell("pool.map(f, range(2))", [stream("from the kernel\n")])
    forked = [child.msg(*stream(f"child {i}\n"), parent) for i in range(2)]
    done = feed(observer, [*msgs[:2], *forked, *msgs[2:]])
    assert [type(e) for e in done] == [Execution]
    assert done[0].status == "ok" and not done[0].partial
    assert "".join(o["text"] for o in done[0].outputs) == "child 0\nchild 1\nfrom the kernel\n"


def test_a_new_kernels_first_message_is_handed_back_not_taken() -> None:
    """Its cell must not be among the old kernel's when the caller ends those."""
    observer = Observer()
    first, second = FakeKernel("aaa_1"), FakeKernel("bbb_2")
    feed(observer, first.cell("1", [])[1])
    _, msgs = second.cell("2", [])
    assert isinstance(observer.handle(msgs[0]), KernelRestarted)  # the cell's busy
    assert observer.running == {}
    done = feed(observer, msgs)  # handed back, then the rest
    assert [(e.code, e.partial) for e in done] == [("2", False)]


def test_messages_missing_fields_do_not_break_the_observer() -> None:
    observer = Observer()
    assert observer.handle({}) is None
    assert observer.handle({"header": {}, "parent_header": {"msg_type": "execute_request"}}) is None
    weird = {
        "header": {"msg_id": "k_1_1", "msg_type": "display_data", "date": "not a date"},
        "parent_header": {"msg_type": "execute_request", "msg_id": "x", "date": "nope"},
        "content": {"no": "data"},
    }
    assert observer.handle(weird) is None


class _Watch:
    """Someone else's kernel whose process has just been replaced: gone until refreshed."""

    owned = False
    pid = 100

    def __init__(self) -> None:
        self.replaced_calls = 0

    def gone(self) -> bool:
        return self.pid == 100

    def exit_status(self) -> int | None:
        return None

    def replaced(self, wait: float, cancelled: Any) -> bool:
        self.replaced_calls += 1
        return True

    def refresh(self) -> None:
        self.pid = 200


class _Socket:
    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.batches = batches

    def receive(self, timeout_ms: int) -> list[dict[str, Any]]:
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None: ...


def _observation(tmp_path: Path) -> Any:
    """An attach observation in this process, its store in ``tmp_path``, started by the caller."""
    from rich.console import Console

    from gclog.config import Paths, load_settings
    from gclog.entry.views import attach_view
    from gclog.observe.observation import Observation

    paths = Paths(state_dir=tmp_path, config_dir=tmp_path)
    settings = load_settings({"metrics": "none", "consent": "yes"}, env={}, paths=paths)
    connection_file = tmp_path / "kernel-1.json"
    connection_file.write_text("{}")
    quiet = attach_view(Console(file=io.StringIO()), "kernel-1", quiet=True)  # a sidecar's
    return Observation("attach", settings, paths, connection_file, quiet, keep_outputs=False)


def _stored(tmp_path: Path, session_id: str) -> list[tuple[str, Any]]:
    """The cell and kernel records: (event_type, code or event)."""
    from gclog.store.store import Store

    with Store(tmp_path / "store.sqlite3") as store:
        records = list(store.records(session_id))
    return [
        (r["event_type"], r.get("event") or r.get("code"))
        for r in records
        if r["event_type"] in ("cell", "kernel")
    ]


_NOTEBOOK: Any = {"name": None, "code_cells": None}


def test_a_restart_seen_late_is_handled_once(tmp_path: Path) -> None:
    """The death check comes late (a starved sidecar): by then the socket holds the old
    kernel's last messages and the start of the new kernel's first cell. One restart is
    recorded, no death, and the new kernel's cell whole, as it ran."""
    old, new = FakeKernel("k1_100"), FakeKernel("k2_200")
    _, before = old.cell("print('before')", [stream("before\n")])
    shutdown = old.msg("shutdown_reply", {"status": "ok", "restart": True}, old.request("x"))
    _, after = new.cell("print('after')", [stream("after\n")])
    socket, watch = _Socket([before, [shutdown, *after[:3]]]), _Watch()
    with _observation(tmp_path) as observation:
        observation.start(socket, watch, "python3", {}, _NOTEBOOK)
        assert observation.handle(socket.receive(0)) is None  # the cell before
        assert observation.check_kernel() is None  # late: the drain finds the restart
        socket.batches.append([after[3]])  # the new kernel's cell ends after the check
        assert observation.handle(socket.receive(0)) is None
        observation.reason = "completed"
        session_id = observation.recorder.session.id
    assert watch.replaced_calls == 0  # the drain saw the new kernel: no waiting for one
    assert _stored(tmp_path, session_id) == [
        ("cell", "print('before')"),
        ("kernel", "restarted"),
        ("cell", "print('after')"),
    ]


def test_an_unload_drained_by_a_late_check_still_stops(tmp_path: Path) -> None:
    """``%unload_ext gclog`` run in the restarted kernel, found by the late check's drain: the
    observation stops there, as the notice promised."""
    old, new = FakeKernel("k1_100"), FakeKernel("k2_200")
    shutdown = old.msg("shutdown_reply", {"status": "ok", "restart": True}, old.request("x"))
    _, unload = new.cell("%unload_ext gclog", [])
    socket = _Socket([[shutdown, *unload]])
    with _observation(tmp_path) as observation:
        observation.start(socket, _Watch(), "python3", {}, _NOTEBOOK)
        stop = observation.check_kernel()
        assert stop is not None and stop.reason == "unloaded"
        observation.reason = stop.reason
        session_id = observation.recorder.session.id
    assert _stored(tmp_path, session_id) == [("kernel", "restarted"), ("cell", "%unload_ext gclog")]


class _ShutWatch(_Watch):
    """A kernel whose process is gone for good: none takes its place."""

    def gone(self) -> bool:
        return True

    def replaced(self, wait: float, cancelled: Any) -> bool:
        self.replaced_calls += 1
        return False


def test_a_new_kernels_first_message_keeps_what_it_announces(tmp_path: Path) -> None:
    """The restart is dealt with before the new kernel's first message is read: a shutdown it
    announces still counts (not reset by the restart), so its end is a shutdown, not a death."""
    old, new = FakeKernel("k1_100"), FakeKernel("k2_200")
    _, before = old.cell("1", [])
    shutdown = new.msg("shutdown_reply", {"status": "ok", "restart": False}, new.request("x"))
    socket, watch = _Socket([before, [shutdown]]), _ShutWatch()
    with _observation(tmp_path) as observation:
        observation.start(socket, watch, "python3", {}, _NOTEBOOK)
        assert observation.handle(socket.receive(0)) is None
        assert observation.handle(socket.receive(0)) is None  # restart, then the shutdown
        stop = observation.check_kernel()
        assert stop is not None and stop.reason == "completed"
        observation.reason = stop.reason
        session_id = observation.recorder.session.id
    assert watch.replaced_calls == 0
    assert _stored(tmp_path, session_id) == [
        ("cell", "1"),
        ("kernel", "restarted"),
        ("kernel", "shutdown"),
    ]
