"""Reading a notebook safely and writing the executed one atomically, without quadratic saving."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gclog.errors import GclogError
from gclog.files import write_atomic

if TYPE_CHECKING:
    from nbformat import NotebookNode

# nbformat (with jsonschema under it) takes ~0.15 s to import: `gclog run` imports it only once
# its kernel is booting (see gclog/entry/run.py), so :func:`read` does without it.
NEWEST_NBFORMAT = 4


@dataclass
class RawNotebook:
    """A notebook file read and parsed as JSON, not yet upgraded or validated."""

    path: Path
    text: str
    data: dict[str, Any]

    @property
    def kernel_name(self) -> str | None:
        spec = (self.data.get("metadata") or {}).get("kernelspec") or {}
        name = spec.get("name") if isinstance(spec, dict) else None
        return name if isinstance(name, str) and name else None


def load(path: Path) -> NotebookNode:
    """Read, upgrade (to nbformat 4) and validate a notebook; GclogError with the reason if not."""
    return parse(read(path))


def read(path: Path) -> RawNotebook:
    """Read a notebook file as JSON: the checks that need no nbformat; GclogError if it fails."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GclogError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GclogError(f"{path}: is a directory, not a notebook") from None
    except PermissionError:
        raise GclogError(f"{path}: permission denied") from None
    except UnicodeDecodeError:
        raise GclogError(f"{path}: not a notebook (not UTF-8 text)") from None
    except OSError as exc:
        raise GclogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise GclogError(
            f"{path}: not a Jupyter notebook (its JSON is nested too deeply)"
        ) from None
    except json.JSONDecodeError as exc:
        raise GclogError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        raise GclogError(f"{path}: not a Jupyter notebook (no nbformat version field)")
    if data["nbformat"] > NEWEST_NBFORMAT:
        raise GclogError(
            f"{path}: nbformat {data['nbformat']} is newer than this gclog supports "
            f"({NEWEST_NBFORMAT})"
        )
    return RawNotebook(path, text, data)


def parse(raw: RawNotebook) -> NotebookNode:
    """Upgrade (to nbformat 4) and validate a notebook read by :func:`read`."""
    import nbformat

    path, text = raw.path, raw.text
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)  # upgrades nbformat 1-3 notebooks
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises many types for malformed notebooks
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # no type: it is noise
        raise GclogError(f"{path}: not a valid Jupyter notebook ({first})") from None
    return nb


def serialize(nb: NotebookNode) -> str:
    """The notebook as nbformat writes it to a file (see :func:`serialized`)."""
    return "".join(serialized(nb))


def serialized(nb: NotebookNode) -> Iterator[str]:
    """nbformat's own on-disk layout, byte for byte, in pieces to write as they come.

    Without validating again (the input was validated), without nbformat's deep copy of the
    notebook, and without the whole text at once: a checkpoint of a long notebook would hold it
    three times over. Only the containers the layout changes are made anew (texts split into
    lines, transient fields left out); the texts themselves are shared.
    """
    from nbformat.v4.nbjson import BytesEncoder

    layout = {
        **nb,
        "metadata": _without(nb["metadata"], _TRANSIENT_METADATA),
        "cells": [_cell_on_disk(cell) for cell in nb["cells"]],
    }
    encoder = BytesEncoder(indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
    yield from encoder.iterencode(layout)
    yield "\n"


# What nbformat.v4 leaves out of a file (rwbase.strip_transient) and splits into lines there
# (rwbase.split_lines): tests/test_notebook_layout.py holds these to nbformat's own output.
_TRANSIENT_METADATA = ("orig_nbformat", "orig_nbformat_minor", "signature")
_SPLIT_MIMES = frozenset(("application/javascript", "image/svg+xml"))


def _without(mapping: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    if not any(key in mapping for key in keys):
        return mapping
    return {k: v for k, v in mapping.items() if k not in keys}


def _lines(value: Any) -> Any:
    return value.splitlines(True) if isinstance(value, str) else value


def _bundle_on_disk(data: dict[str, Any]) -> dict[str, Any]:
    return {
        mime: _lines(value) if mime.startswith("text/") or mime in _SPLIT_MIMES else value
        for mime, value in data.items()
    }


def _cell_on_disk(cell: dict[str, Any]) -> dict[str, Any]:
    out = {**cell, "metadata": _without(cell["metadata"], ("trusted",))}
    if "source" in cell:
        out["source"] = _lines(cell["source"])
    if "attachments" in cell:
        out["attachments"] = {name: _bundle_on_disk(b) for name, b in cell["attachments"].items()}
    if cell.get("cell_type") == "code":
        out["outputs"] = [_output_on_disk(output) for output in cell["outputs"]]
    return out


def _output_on_disk(output: dict[str, Any]) -> dict[str, Any]:
    kind = output.get("output_type")
    if kind in ("execute_result", "display_data") and "data" in output:
        return {**output, "data": _bundle_on_disk(output["data"])}
    if kind == "stream" and "text" in output:
        return {**output, "text": _lines(output["text"])}
    return output


class CheckpointWriter:
    """Saves a notebook as it is executed, at a cost that stays a small share of the run.

    papermill rewrites the whole notebook twice per cell, so a long notebook costs O(n²). Here a
    checkpoint is due only when at least ``min_interval`` seconds *and* ``1 / max_share`` times the
    last save's own duration have passed: saving never takes more than ``max_share`` of the wall
    time, and a fast notebook is saved a handful of times instead of once per cell.
    """

    def __init__(
        self, nb: NotebookNode, path: Path, min_interval: float = 2.0, max_share: float = 0.02
    ) -> None:
        self.nb = nb
        self.path = path
        self.min_interval = min_interval
        self.max_share = max_share
        self.saves = 0
        self.bytes_written = 0
        self.seconds_saving = 0.0
        self._last_end = time.monotonic()
        self._last_cost = 0.0

    def maybe_save(self) -> bool:
        wait = max(self.min_interval, self._last_cost / self.max_share)
        if time.monotonic() - self._last_end < wait:
            return False
        self.save()
        return True

    def save(self) -> None:
        start = time.monotonic()
        written = write_atomic(self.path, serialized(self.nb))
        end = time.monotonic()
        self.saves += 1
        self.bytes_written += written
        self.seconds_saving += end - start
        self._last_cost = end - start
        self._last_end = end

    def stats(self) -> dict[str, Any]:
        return {
            "saves": self.saves,
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds_saving, 4),
        }
