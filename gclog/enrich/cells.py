"""Which cell of the notebook *as distributed* an execution was: ``cell_key``, ``cell_index``,
``cell_match``.

The *baseline* is the notebook's code cells as its publisher distributed them (from the stamp
``gclog stamp`` wrote, or the notebook as this install first saw it): each cell's key (its nbformat
id) and a hash of its source. Executed code is matched to it so that records of everyone who ran a
copy join per cell, whatever they changed:

- ``distributed``: the code is a baseline cell's code (or the front end said which cell, unchanged);
- ``edited``: a baseline cell whose code the person changed, found by its id (saved edits keep
  it, as JupyterLab does) or, for an unsaved edit, as the saved cell closest in text;
- ``added``: a cell that is not in the baseline (its key is its own id when the file has it);
- ``gclog``: a cell the person added that only loads or unloads gclog (``%load_ext gclog``): it is
  recorded, as part of the session, but it is neither the notebook's nor the person's work.

:class:`NotebookFile` re-reads the notebook when its file changes (a stat per cell, ~2 µs), so a
cell the person added and saved is known as theirs.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat

from gclog.enrich.saved_cells import normal

CellMatch = Literal["distributed", "edited", "added", "gclog"]
GCLOG_MAGIC = re.compile(r"(?:\s*%(?:load|unload|reload)_ext\s+gclog\s*(?:#[^\n]*)?\n?)+\Z")
FUZZY_MIN = 0.6  # SequenceMatcher ratio from which an unsaved edit is taken for the saved cell
FUZZY_CHARS = 4000  # only the head of long code is compared: the cost stays bounded


def source_sha(code: str) -> str:
    """A cell's code, normalised (trailing whitespace aside), hashed: 16 hex digits suffice."""
    return hashlib.sha256(normal(code).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def code_cells(nb: Any) -> list[tuple[str, str]]:
    """(key, source) of each code cell in order; the key is the nbformat id, or ``#i``."""
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    return [(str(c.get("id") or f"#{i}"), str(c.get("source", ""))) for i, c in enumerate(cells)]


@dataclass(frozen=True)
class Baseline:
    """The notebook as distributed: (cell key, source sha) of each code cell, in order."""

    cells: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, nb: Any) -> Baseline:
        return cls(tuple((key, source_sha(source)) for key, source in code_cells(nb)))

    def as_json(self) -> list[dict[str, str]]:
        return [{"id": key, "sha": sha} for key, sha in self.cells]

    @classmethod
    def from_json(cls, data: Any) -> Baseline | None:
        if not isinstance(data, list):
            return None
        try:
            return cls(tuple((str(c["id"]), str(c["sha"])) for c in data))
        except (KeyError, TypeError):
            return None


class CellMap:
    def __init__(self, baseline: Baseline, saved: list[tuple[str, str]]) -> None:
        self.baseline = baseline
        self.index = {key: i for i, (key, _) in reversed(list(enumerate(baseline.cells)))}
        self.by_sha: dict[str, list[int]] = {}
        for i, (_, sha) in enumerate(baseline.cells):
            self.by_sha.setdefault(sha, []).append(i)
        self.saved = [(key, normal(source)) for key, source in saved]
        self.last = -1  # the baseline index matched last: repeated code prefers the next copy

    def match(self, code: str | None, cell_id: str | None = None) -> dict[str, Any]:
        if code is None:
            return _result(cell_id, None, None)
        sha = source_sha(code)
        if sha not in self.by_sha and GCLOG_MAGIC.match(code):
            return _result(cell_id, None, "gclog")
        if cell_id:  # the front end (or gclog run) said which cell it was
            return self._known(cell_id, sha)
        found = self.by_sha.get(sha)
        if found:
            i = next((i for i in found if i > self.last), found[0])
            return self._at(i, "distributed")
        text = normal(code)
        for key, source in self.saved:  # edited and saved: the cell keeps its id
            if source == text:
                return self._known(key, sha)
        key = self._closest(text)
        return self._known(key, sha) if key is not None else _result(None, None, "added")

    def _known(self, key: str, sha: str) -> dict[str, Any]:
        i = self.index.get(key)
        if i is None:
            return _result(key, None, "added")
        return self._at(i, "distributed" if self.baseline.cells[i][1] == sha else "edited")

    def _at(self, i: int, how: CellMatch) -> dict[str, Any]:
        self.last = i
        return _result(self.baseline.cells[i][0], i, how)

    def _closest(self, text: str) -> str | None:
        head = text[:FUZZY_CHARS]
        best, best_key = FUZZY_MIN, None
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(head)
        for key, source in self.saved:
            matcher.set_seq1(source[:FUZZY_CHARS])
            if matcher.real_quick_ratio() < best or matcher.quick_ratio() < best:
                continue
            ratio = matcher.ratio()
            if ratio >= best:
                best, best_key = ratio, key
        return best_key


def _result(key: str | None, index: int | None, how: CellMatch | None) -> dict[str, Any]:
    return {"cell_key": key, "cell_index": index, "cell_match": how}


def read_notebook(path: Path) -> Any | None:
    """The notebook at ``path``, or None if it cannot be read as one (then cells are unknown)."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception:  # unreadable, not JSON, not a notebook: matching is off, nothing fails
        return None


class NotebookFile:
    """A notebook file being worked on, re-read when it changes, matched against a baseline."""

    def __init__(self, path: Path | None, baseline: Baseline | None, nb: Any | None) -> None:
        self.path = path
        self.baseline = baseline
        self._seen = self._stat()
        self.map = CellMap(baseline, code_cells(nb) if nb else []) if baseline else None

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path) if self.path else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    def match(self, code: str | None, cell_id: str | None = None) -> dict[str, Any]:
        if self.map is None:
            return _result(cell_id, None, None)
        seen = self._stat()
        if seen is not None and seen != self._seen and self.path is not None:
            self._seen = seen
            nb = read_notebook(self.path)
            if nb is not None:  # half-written by an editor: keep the last good read
                last = self.map.last
                self.map = CellMap(self.map.baseline, code_cells(nb))
                self.map.last = last
        return self.map.match(code, cell_id)
