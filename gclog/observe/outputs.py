"""Cell outputs (nbformat dicts) → the output summary of a cell record.

Only ``text/plain`` and stream text are kept; HTML, JSON and the like count by size only, and
binary payloads (images, PDFs) are reduced to MIME type, decoded size and SHA-256. Texts are kept
whole here: the privacy filter scrubs them and cuts them to their caps (cutting first would leave
half a secret where no rule recognises it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from gclog.records import ErrorInfo, ImageSummary, OutputSummary
from gclog.text import strip_ansi


def is_binary_mime(mime: str) -> bool:
    """nbformat stores these base64-encoded; everything else is text or JSON."""
    return not (
        mime.startswith("text/")
        or mime.endswith("json")
        or mime in ("image/svg+xml", "application/javascript")
    )


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _payload_size(mime: str, value: Any) -> tuple[int, bytes | None]:
    """Size in bytes of one MIME bundle entry, and its decoded bytes when binary."""
    if is_binary_mime(mime):
        raw = _text(value)
        try:
            decoded = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError):
            decoded = raw.encode("utf-8", "surrogatepass")
        return len(decoded), decoded
    if isinstance(value, (dict, list)) and mime.endswith("json"):
        return len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")), None
    return len(_text(value).encode("utf-8", "surrogatepass")), None


def summarize(outputs: Iterable[Mapping[str, Any]]) -> OutputSummary:
    by_type: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    results: list[str] = []
    images: list[ImageSummary] = []
    for out in outputs:
        kind = str(out.get("output_type", "unknown"))
        by_type[kind] += 1
        if kind == "stream":
            name = str(out.get("name", "stdout"))
            text = _text(out.get("text", ""))
            sizes[f"stream/{name}"] += len(text.encode("utf-8", "surrogatepass"))
            streams.setdefault(name, []).append(text)
        elif kind in ("execute_result", "display_data", "update_display_data"):
            for mime, value in dict(out.get("data") or {}).items():
                size, decoded = _payload_size(mime, value)
                sizes[mime] += size
                if decoded is not None:
                    digest = hashlib.sha256(decoded).hexdigest()
                    images.append({"mime": mime, "bytes": size, "sha256": digest})
                elif mime == "text/plain":
                    results.append(_text(value))
    return {
        "count": sum(by_type.values()),
        "by_type": dict(by_type),
        "bytes_by_mime": dict(sizes),
        "stdout": _excerpt(streams["stdout"]),
        "stderr": _excerpt(streams["stderr"]),
        "result": _excerpt(results, sep="\n"),
        "images": images,
    }


def _excerpt(parts: list[str], sep: str = "") -> str | None:
    if not parts:
        return None
    return strip_ansi(sep.join(parts))


def error_info(content: Mapping[str, Any]) -> ErrorInfo:
    traceback = content.get("traceback") or []
    return {
        "ename": str(content.get("ename", "")),
        "evalue": strip_ansi(str(content.get("evalue", ""))),
        "traceback": strip_ansi("\n".join(map(str, traceback))),
    }
