"""The executed notebook is written byte for byte as nbformat writes it, without copying it."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
    new_raw_cell,
    rwbase,
)

from gclog.jupyter import notebook as layout
from gclog.jupyter.notebook import serialize

REPO = Path(__file__).resolve().parent.parent
SVG = '<svg xmlns="http://www.w3.org/2000/svg">\n<rect width="1"/>\n</svg>\n'


def every_kind_of_cell() -> nbformat.NotebookNode:
    """Every place nbformat splits text into lines or leaves a transient field out."""
    code = new_code_cell("import json\nprint('héllo — ☃')\n", execution_count=3)
    code.outputs = [
        new_output("stream", name="stdout", text="one\ntwo\r\nthree"),
        new_output("stream", name="stderr", text=["already\n", "split\n"]),
        new_output(
            "execute_result",
            execution_count=3,
            data={
                "text/plain": "a\nb",
                "text/html": "<b>x</b>\n<i>y</i>",
                "application/json": {"a": [1, 2], "b": "c\nd"},
                "application/vnd.custom+json": {"k": "v\nw"},
                "application/javascript": "let a = 1;\nlet b = 2;",
                "image/svg+xml": SVG,
                "image/png": "iVBORw0KGgo=\n",
            },
            metadata={"image/png": {"width": 10}},
        ),
        new_output("display_data", data={"text/plain": ""}, metadata={}),
        new_output("error", ename="ValueError", evalue="bad\nvalue", traceback=["a\nb", "c"]),
    ]
    code.metadata = {"trusted": True, "tags": ["x"], "execution": {"iopub.status.idle": "t"}}
    markdown = new_markdown_cell("![x](attachment:x.png)\n\nline")
    markdown.attachments = {"x.png": {"image/png": "iVBOR\nw0KGgo=", "text/plain": "alt\ntext"}}
    markdown.metadata = {"trusted": False}
    empty = new_code_cell("")
    raw = new_raw_cell("raw\ntext\n", metadata={"format": "text/x-rst"})
    nb = new_notebook(cells=[code, markdown, empty, raw])
    nb.metadata.update(
        {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "orig_nbformat": 3,
            "orig_nbformat_minor": 0,
            "signature": "sha256:abc",
            "title": "ünïcode",
        }
    )
    return nb


def notebooks() -> list[tuple[str, nbformat.NotebookNode]]:
    found = [("every kind of cell", every_kind_of_cell())]
    for path in sorted((REPO / "examples").glob("*.ipynb")):
        found.append((path.name, nbformat.read(path, as_version=4)))
    return found


@pytest.mark.parametrize(("name", "nb"), notebooks(), ids=[n for n, _ in notebooks()])
def test_the_notebook_is_written_as_nbformat_writes_it(
    name: str, nb: nbformat.NotebookNode
) -> None:
    before = copy.deepcopy(nb)
    assert serialize(nb) == nbformat.v4.writes(nb) + "\n"
    assert nb == before  # the notebook being executed is not changed by saving it


def test_the_lines_and_transient_fields_are_nbformats_own() -> None:
    assert frozenset(rwbase._non_text_split_mimes) == layout._SPLIT_MIMES
    probe = new_notebook(cells=[new_code_cell("x")])
    for key in layout._TRANSIENT_METADATA:
        probe.metadata[key] = 1
    rwbase.strip_transient(probe)
    assert not any(key in probe.metadata for key in layout._TRANSIENT_METADATA)
