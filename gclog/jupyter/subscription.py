"""A passive iopub subscriber: the one reader of a kernel's messages, for run and attach alike.

It only listens (a SUB socket), so it can sit beside any front end. It knows when it is connected
(ipykernel 7 welcomes each new topic), never drops a message on its side, and decodes messages
itself: checking the signature and parsing four small JSON frames takes a tenth of what
jupyter_client's general deserializer does (which walks every field for dates), and an observer
beside a busy kernel should cost it as little as possible.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import zmq

from gclog.records import parse_iso

NUDGE_AFTER_S = 0.2  # with a kernel that does not welcome subscribers, nudge it this often
_DELIMITER = b"<IDS|MSG>"
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
_decode_json = json.JSONDecoder().decode


def _json(frame: bytes) -> Any:
    """A JSON frame. The protocol's frames are UTF-8: read so, json.loads' guess at the
    encoding is skipped; a frame that is not UTF-8 JSON is read as json.loads reads it."""
    try:
        return _decode_json(frame.decode("utf-8", "surrogatepass"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return json.loads(frame)


class Subscription:
    """Subscribed to one kernel's iopub channel, given its connection info."""

    def __init__(self, info: dict[str, Any]) -> None:
        key = info.get("key") or b""
        key = key.encode() if isinstance(key, str) else bytes(key)
        scheme = str(info.get("signature_scheme", "hmac-sha256"))
        digest = getattr(hashlib, scheme.partition("-")[2] or "sha256", hashlib.sha256)
        self._signer = hmac.new(key, digestmod=digest) if key else None
        self.topic = f"gclog-{uuid.uuid4().hex}"
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.linger = 0
        self.socket.rcvhwm = 0  # never drop a message on our side, however far behind we fall
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.setsockopt(zmq.SUBSCRIBE, self.topic.encode())
        self.socket.connect(f"{info['transport']}://{info['ip']}:{info['iopub_port']}")
        self.early: list[dict[str, Any]] = []
        # One poller for the socket's life: Socket.poll makes and fills a new one on every call.
        self._poller = zmq.Poller()
        self._poller.register(self.socket, zmq.POLLIN)
        # Every message of a cell carries the same parent header (its execute_request), frame
        # for frame: the last one decoded is kept, so the next is parsed only when it differs.
        self._parent: tuple[bytes, dict[str, Any]] | None = None

    def wait_connected(self, timeout: float, nudge: Callable[[], object] | None = None) -> bool:
        """True once the kernel confirmed our topic (ipykernel 7's ``iopub_welcome``).

        Messages that arrive meanwhile are kept in ``early``. A client that may send requests
        (``gclog run``) passes ``nudge`` (a kernel_info request): with a kernel too old to
        welcome subscribers, the first message the nudge brings proves the connection instead.
        """
        deadline = time.monotonic() + timeout
        next_nudge = time.monotonic() + NUDGE_AFTER_S
        while (left := deadline - time.monotonic()) > 0:
            if nudge is not None and time.monotonic() >= next_nudge:
                nudge()
                next_nudge = time.monotonic() + NUDGE_AFTER_S
            for msg in self.receive(int(min(left, NUDGE_AFTER_S) * 1000)):
                if msg["msg_type"] == "iopub_welcome":
                    if msg["content"].get("subscription") == self.topic:
                        return True
                else:
                    self.early.append(msg)
            if nudge is not None and self.early:
                return True
        return False

    def receive(self, timeout_ms: int) -> list[dict[str, Any]]:
        socket = self.socket
        # EVENTS says whether a message is waiting, without a poll or a raised zmq.Again
        # (plain ints: zmq's flag enums cost more than the call).
        if not socket.getsockopt(_EVENTS) & _POLLIN and not self._poller.poll(timeout_ms):
            return []
        messages = []
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return messages
            msg = self._decode(frames)
            if msg is not None:
                messages.append(msg)
            if not socket.getsockopt(_EVENTS) & _POLLIN:
                return messages

    def _decode(self, frames: list[bytes]) -> dict[str, Any] | None:
        """The wire format: topics, <IDS|MSG>, signature, header, parent, metadata, content."""
        try:
            start = frames.index(_DELIMITER) + 1
            signature, header_frame, parent_frame, metadata_frame, content_frame = frames[
                start : start + 5
            ]
            if self._signer is not None:
                signer = self._signer.copy()
                signer.update(b"".join((header_frame, parent_frame, metadata_frame, content_frame)))
                if not hmac.compare_digest(signer.hexdigest().encode(), signature):
                    return None  # not signed with this kernel's key: not ours to record
            header = _json(header_frame)
            parent = self._parent_header(parent_frame)
            metadata = {} if metadata_frame == b"{}" else _json(metadata_frame)
            content = _json(content_frame)
        except (ValueError, TypeError):
            return None
        if isinstance(header, dict) and isinstance(header.get("date"), str):
            header["date"] = parse_iso(header["date"]) or header["date"]
        return {
            "header": header,
            "parent_header": parent,
            "metadata": metadata,
            "content": content,
            "buffers": frames[start + 5 :],  # binary buffers (widgets' arrays), usually none
            "msg_type": header.get("msg_type") if isinstance(header, dict) else None,
        }

    def _parent_header(self, frame: bytes) -> Any:
        """The parent header, decoded (its date parsed) once per distinct frame; a copy, so
        that no message shares its dict with another."""
        known = self._parent
        if known is not None and known[0] == frame:
            return dict(known[1])
        parent = _json(frame)
        if not isinstance(parent, dict):
            return parent
        if isinstance(parent.get("date"), str):
            parent["date"] = parse_iso(parent["date"]) or parent["date"]
        self._parent = (frame, parent)
        return dict(parent)

    def close(self) -> None:
        self.socket.close()
