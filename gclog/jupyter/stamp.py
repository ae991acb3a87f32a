"""``gclog stamp NOTEBOOK``: the publisher's mark, so every copy of a notebook joins as one.

It writes ``metadata.gclog`` = ``{"notebook_id": ID, "cells": [{"id", "sha"}, …]}``: the id every
copy will record as its ``notebook_id``, and each code cell's nbformat id with a hash of its code
as distributed — what records later compare executed code with (gclog/enrich/cells.py). Cell ids
are kept (JupyterLab keeps them across edits and saves); cells without one (nbformat < 4.5) get
one. Stamping again keeps the id and renews the cells: publish the stamped file.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from nbformat.v4.nbbase import random_cell_id

from gclog.enrich.cells import Baseline
from gclog.enrich.identities import STAMP_ID, stamp_of
from gclog.errors import GclogError
from gclog.files import write_atomic
from gclog.jupyter.notebook import load, serialize


def stamp(path: Path, notebook_id: str | None = None, output: Path | None = None) -> str:
    """Stamp the notebook at ``path`` (or write the stamped copy to ``output``); its id."""
    nb = load(path)
    if notebook_id is not None and not STAMP_ID.fullmatch(notebook_id):
        raise GclogError(
            f"--id {notebook_id!r}: use 1-128 letters, digits and . _ : - (starting with a letter "
            "or digit)"
        )
    before = stamp_of(nb)
    key = notebook_id or (before[0] if before else f"nb-{uuid.uuid4().hex[:20]}")
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        nb.nbformat_minor = 5  # cell ids came with 4.5
    for cell in nb.cells:
        if not cell.get("id"):
            cell["id"] = random_cell_id()
    nb.metadata["gclog"] = {"notebook_id": key, "cells": Baseline.of(nb).as_json()}
    write_atomic(output or path, serialize(nb))
    return key
