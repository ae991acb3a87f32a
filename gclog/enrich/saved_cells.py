"""``code_modified``: does the code executed differ from every code cell of the saved notebook?

The seed read the notebook when logging started and called a cell modified when the code run was
none of its cells. Here :meth:`SavedCells.from_path` does the same for ``attach`` and the extension
(given the notebook's path); ``gclog run`` builds it from the notebook it sends, so its cells are
never modified, by construction. Trailing whitespace is ignored: editors add and drop it freely.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import nbformat


def normal(code: str) -> str:
    """Code as compared: stripped, and each line without trailing whitespace."""
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


class SavedCells:
    def __init__(self, sources: Iterable[str]) -> None:
        self._sources = frozenset(normal(s) for s in sources)

    @classmethod
    def from_notebook(cls, nb: nbformat.NotebookNode) -> SavedCells:
        return cls(c.source for c in nb.cells if c.get("cell_type") == "code")

    @classmethod
    def from_path(cls, path: Path) -> SavedCells | None:
        """The code cells of the notebook at ``path``; None if it cannot be read as a notebook."""
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # unreadable or not a notebook: then "modified" is unknown, not an error
            return None
        return cls.from_notebook(nb)

    def modified(self, code: str | None) -> bool | None:
        if code is None:
            return None
        return normal(code) not in self._sources
