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
        if not self.socket.poll(timeout_ms):
            return []
        messages = []
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return messages
            msg = self._decode(frames)
            if msg is not None:
                messages.append(msg)

    def _decode(self, frames: list[bytes]) -> dict[str, Any] | None:
        """The wire format: topics, <IDS|MSG>, signature, header, parent, metadata, content."""
        try:
            start = frames.index(b"<IDS|MSG>") + 1
            signature, *parts = frames[start : start + 5]
            if self._signer is not None:
                signer = self._signer.copy()
                for part in parts:
                    signer.update(part)
                if not hmac.compare_digest(signer.hexdigest().encode(), signature):
                    return None  # not signed with this kernel's key: not ours to record
            header, parent, metadata, content = (json.loads(p) for p in parts)
        except (ValueError, TypeError):
            return None
        for part in (header, parent):
            if isinstance(part, dict) and isinstance(part.get("date"), str):
                part["date"] = parse_iso(part["date"]) or part["date"]
        return {
            "header": header,
            "parent_header": parent,
            "metadata": metadata,
            "content": content,
            "buffers": frames[start + 5 :],  # binary buffers (widgets' arrays), usually none
            "msg_type": header.get("msg_type") if isinstance(header, dict) else None,
        }

    def close(self) -> None:
        self.socket.close()
