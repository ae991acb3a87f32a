"""The iopub subscriber's own decoding of the wire format (gclog/jupyter/subscription.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jupyter_client.session import Session

from gclog.jupyter.subscription import Subscription

KEY = "a-kernel-key"


def subscription() -> Subscription:
    # Never connected to anything: only its decoding is used.
    return Subscription({"key": KEY, "transport": "tcp", "ip": "127.0.0.1", "iopub_port": 9})


def frames(session: Session, msg_type: str, content: dict[str, Any], parent: Any) -> list[bytes]:
    return [b"kernel.status", *session.serialize(session.msg(msg_type, content, parent=parent))]


def test_decodes_what_jupyter_client_sends() -> None:
    sub, session = subscription(), Session(key=KEY.encode())
    parent = session.msg("execute_request", {"code": "x = 1"})
    try:
        msg = sub._decode(frames(session, "stream", {"name": "stdout", "text": "é\n"}, parent))
    finally:
        sub.close()
    assert msg is not None
    assert msg["msg_type"] == "stream"
    assert msg["content"] == {"name": "stdout", "text": "é\n"}
    assert msg["metadata"] == {}
    assert isinstance(msg["header"]["date"], datetime)
    assert isinstance(msg["parent_header"]["date"], datetime)
    assert msg["parent_header"]["msg_id"] == parent["header"]["msg_id"]


def test_a_parent_header_seen_again_is_the_same_but_not_shared() -> None:
    sub, session = subscription(), Session(key=KEY.encode())
    first_request = session.msg("execute_request", {"code": "x = 1"})
    second_request = session.msg("execute_request", {"code": "x = 2"})
    try:
        busy, idle, other = (
            sub._decode(frames(session, "status", {"execution_state": state}, parent))
            for state, parent in (("busy", first_request), ("idle", first_request),
                                  ("busy", second_request))
        )  # fmt: skip
    finally:
        sub.close()
    assert busy is not None and idle is not None and other is not None
    assert busy["parent_header"] == idle["parent_header"]
    assert busy["parent_header"] is not idle["parent_header"]
    busy["parent_header"]["msg_type"] = "changed by a consumer"
    assert idle["parent_header"]["msg_type"] == "execute_request"
    assert other["parent_header"]["msg_id"] == second_request["header"]["msg_id"]


def test_a_message_not_signed_with_the_kernels_key_is_dropped() -> None:
    sub, stranger = subscription(), Session(key=b"another key")
    try:
        assert sub._decode(frames(stranger, "status", {"execution_state": "idle"}, {})) is None
        assert sub._decode([b"no delimiter"]) is None
        assert sub._decode([b"<IDS|MSG>", b"signature", b"{}"]) is None  # frames missing
    finally:
        sub.close()


def test_a_frame_that_is_not_utf8_is_read_as_json_loads_reads_it() -> None:
    unsigned = Subscription({"transport": "tcp", "ip": "127.0.0.1", "iopub_port": 9})
    header = '{"msg_type": "status", "msg_id": "m"}'.encode("utf-16")
    try:
        msg = unsigned._decode([b"<IDS|MSG>", b"", header, b"{}", b"{}", b"{}"])
    finally:
        unsigned.close()
    assert msg is not None and msg["msg_type"] == "status"
