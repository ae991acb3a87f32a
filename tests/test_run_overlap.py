"""`gclog run` makes a cell's record while the next cell runs: what must not change because of it.

The decision to go on is taken from the cell's reply before anything else is sent, so a failure
still stops the run with nothing sent after it; records keep the order the cells ran in; every
cell, the last one included, is recorded and annotated in the notebook; a kernel that dies is
recorded after the cells it ran.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from helpers import Env, by_type, write_notebook


def read_nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_nothing_runs_after_a_failure_and_every_cell_is_recorded_in_order(env: Env) -> None:
    marker = env.root / "ran-after-the-failure"
    nb_path = write_notebook(
        env.root / "n.ipynb",
        *[f"x = {i}" for i in range(30)],
        {"source": "raise ValueError('tagged')", "tags": ["raises-exception"]},
        "y = 1",
        "1/0",
        f"open({str(marker)!r}, 'w').write('no')",
    )
    result = env.gclog("run", str(nb_path))
    assert result.returncode == 1
    assert "cell 33 raised ZeroDivisionError" in result.stderr
    assert not marker.exists()  # stop-on-error: the cell after the failure was never sent
    records = env.records()
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    cells = by_type(records, "cell")
    assert [c["index"] for c in cells] == list(range(33))
    assert [c["status"] for c in cells[30:]] == ["error", "ok", "error"]
    out = read_nb(env.root / "n.gclog.ipynb")
    for index in range(33):  # each recorded cell is annotated, the failing last one too
        assert out.cells[index].metadata["gclog"]["event_id"] == cells[index]["event_id"]
    assert "gclog" not in out.cells[33].metadata and out.cells[33].execution_count is None
    assert records[-1]["event_type"] == "session_end" and records[-1]["reason"] == "cell_error"


def test_allow_errors_runs_every_cell_and_records_the_last(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "1/0", "x = 1", "2/0", "print('last')")
    result = env.gclog("run", str(nb_path), "--allow-errors")
    assert result.returncode == 0, result.stderr
    cells = by_type(env.records(), "cell")
    assert [c["status"] for c in cells] == ["error", "ok", "error", "ok"]
    assert read_nb(env.root / "n.gclog.ipynb").cells[3].metadata["gclog"]["status"] == "ok"


def test_a_kernel_death_is_recorded_after_the_cells_before_it(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "x = 1", "y = 2", "import os; os._exit(3)")
    result = env.gclog("run", str(nb_path))
    assert result.returncode == 3
    kinds = [(r["event_type"], r.get("index")) for r in env.records()]
    cells_then_death = [k for k in kinds if k[0] in ("cell", "kernel")]
    assert cells_then_death == [("cell", 0), ("cell", 1), ("cell", 2), ("kernel", None)]
