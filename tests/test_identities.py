"""Identities that join across installs: the stamp, the first-seen fingerprint, visits, the fleet
key, and the matching of executed code to the notebook's cells as distributed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from helpers import Env, by_type, one_line_error, write_notebook

from gclog.enrich.cells import Baseline, CellMap, code_cells
from gclog.jupyter.server import notebook_of_kernel

CELLS = ("import math", "x = math.sqrt(16)\nprint(x)", "y = x * 2", "print('done')")


def run(
    env: Env, notebook: Path, home: Path | None = None, **variables: str
) -> list[dict[str, Any]]:
    """`gclog run` in the install at ``home``; the records of that run."""
    home = home or env.home
    result = env.gclog(
        "run", str(notebook), "--no-metrics", "--allow-errors", GCLOG_HOME=str(home), **variables
    )
    assert result.returncode == 0, result.stderr
    export = env.gclog("export", "--last", GCLOG_HOME=str(home))
    return [json.loads(line) for line in export.stdout.splitlines()]


def test_stamp_writes_the_id_and_keeps_cell_ids(env: Env) -> None:
    nb_path = write_notebook(env.root / "t.ipynb", *CELLS, {"markdown": True, "source": "# hi"})
    ids = [c.id for c in nbformat.read(nb_path, as_version=4).cells]
    result = env.gclog("stamp", str(nb_path), "--id", "course-101.intro")
    assert result.returncode == 0, result.stderr
    assert "stamped" in result.stderr and "course-101.intro" in result.stderr
    nb = nbformat.read(nb_path, as_version=4)
    assert [c.id for c in nb.cells] == ids  # kept
    meta = nb.metadata["gclog"]
    assert meta["notebook_id"] == "course-101.intro"
    assert [c["id"] for c in meta["cells"]] == ids[:4]  # the code cells, in order
    again = env.gclog("stamp", str(nb_path))  # a second stamp keeps the id
    assert again.returncode == 0
    assert (
        nbformat.read(nb_path, as_version=4).metadata["gclog"]["notebook_id"] == "course-101.intro"
    )
    fresh = write_notebook(env.root / "u.ipynb", "1")
    assert env.gclog("stamp", str(fresh), "-o", str(env.root / "v.ipynb")).returncode == 0
    assert (
        nbformat.read(env.root / "v.ipynb", as_version=4)
        .metadata["gclog"]["notebook_id"]
        .startswith("nb-")
    )
    assert "gclog" not in nbformat.read(fresh, as_version=4).metadata  # -o: the input is left alone


def test_stamp_gives_old_notebooks_cell_ids(env: Env) -> None:
    old = {
        "nbformat": 4,
        "nbformat_minor": 2,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "source": "1",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            }
        ],
    }
    path = env.root / "old.ipynb"
    path.write_text(json.dumps(old))
    assert env.gclog("stamp", str(path)).returncode == 0
    nb = nbformat.read(path, as_version=4)
    assert nb.nbformat_minor >= 5 and nb.cells[0].id
    nbformat.validate(nb)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "has spaces"], "--id 'has spaces'"),
        (["--id", ""], "--id ''"),
    ],
)
def test_stamp_refuses_a_bad_id(env: Env, args: list[str], message: str) -> None:
    nb = write_notebook(env.root / "t.ipynb", "1")
    result = env.gclog("stamp", str(nb), *args)
    assert result.returncode == 2
    assert message in one_line_error(result.stderr)


def test_stamp_of_a_missing_notebook_is_a_one_line_error(env: Env) -> None:
    result = env.gclog("stamp", str(env.root / "none.ipynb"))
    assert result.returncode == 2
    assert "no such file" in one_line_error(result.stderr)


def test_copies_join_across_installs_and_the_path_is_never_recorded(env: Env) -> None:
    original = write_notebook(env.root / "tutorial.ipynb", *CELLS)
    keys, paths = set(), set()
    for n in range(2):
        copy_dir = env.root / f"alice{n}"
        copy_dir.mkdir()
        copy = Path(shutil.copy(original, copy_dir / "tutorial.ipynb"))
        records = run(env, copy, env.root / f"home{n}")
        keys |= {r["notebook_id"] for r in records}
        start = by_type(records, "session_start")[0]
        paths.add(start["notebook"]["path_id"])
        assert start["notebook"]["key_source"] == "fingerprint"
        assert str(copy_dir) not in json.dumps(records)
        assert [c["cell_match"] for c in by_type(records, "cell")] == ["distributed"] * 4
        assert [c["cell_index"] for c in by_type(records, "cell")] == [0, 1, 2, 3]
    (key,) = keys
    assert key.startswith("fp-")
    assert len(paths) == 2  # two paths, two installs without a fleet key: nothing joins them


def test_an_edited_copy_keeps_the_key_it_was_first_seen_with(env: Env) -> None:
    path = write_notebook(env.root / "t.ipynb", *CELLS)
    first = run(env, path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "y = x * 3  # my change"
    nb.cells.insert(3, nbformat.v4.new_code_cell("print('mine')"))
    nbformat.write(nb, path)
    second = run(env, path)
    assert {r["notebook_id"] for r in first} == {r["notebook_id"] for r in second}
    cells = [(c["cell_index"], c["cell_match"]) for c in by_type(second, "cell")]
    assert cells == [
        (0, "distributed"),
        (1, "distributed"),
        (2, "edited"),
        (None, "added"),
        (3, "distributed"),
    ]
    start = by_type(second, "session_start")[0]["notebook"]
    assert start["visit"] == 2
    assert start["previous_session_id"] == first[0]["session_id"]


def test_a_stamped_notebook_edited_before_its_first_run_still_maps_to_the_original(
    env: Env,
) -> None:
    path = write_notebook(env.root / "t.ipynb", *CELLS)
    assert env.gclog("stamp", str(path), "--id", "tut").returncode == 0
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = "x = math.sqrt(25)\nprint(x)"
    nbformat.write(nb, path)
    records = run(env, path)
    assert {r["notebook_id"] for r in records} == {"tut"}
    assert [c["cell_match"] for c in by_type(records, "cell")] == [
        "distributed",
        "edited",
        "distributed",
        "distributed",
    ]


def test_the_fleet_key_makes_paths_and_platform_ids_join(env: Env) -> None:
    path = write_notebook(env.root / "t.ipynb", "1")
    variables = {
        "PAPERSPACE_NOTEBOOK_ID": "nb-9f3a",
        "GCLOG_ENV_FACTS": "hash:PAPERSPACE_NOTEBOOK_ID",
    }
    seen: dict[str, set[tuple[str, str]]] = {"fleet": set(), "none": set()}
    for n in range(2):
        for kind, extra in (("fleet", {"GCLOG_FLEET_KEY": "publisher-secret"}), ("none", {})):
            records = run(env, path, env.root / f"{kind}{n}", **variables, **extra)
            start = by_type(records, "session_start")[0]
            hashed = start["environment"]["variables"]["PAPERSPACE_NOTEBOOK_ID"]
            assert "nb-9f3a" not in json.dumps(records)
            seen[kind].add((start["notebook"]["path_id"], hashed))
    assert len(seen["fleet"]) == 1  # two installs, one fleet key: the same hashes
    assert len(seen["none"]) == 2  # per-install keys: no join


def test_cell_map_tells_distributed_edited_and_added() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(s) for s in ("a = 1", "b = a + 1", "a = 1", "plot(b, 'x')")
    ]
    baseline = Baseline.of(nb)
    keys = [k for k, _ in code_cells(nb)]
    saved = code_cells(nb)
    saved[1] = (keys[1], "b = a + 2")  # edited and saved: same id
    saved.append(("new-id", "print('mine')"))  # added and saved
    cells = CellMap(baseline, saved)
    assert cells.match("a = 1  ") == {
        "cell_key": keys[0],
        "cell_index": 0,
        "cell_match": "distributed",
    }
    assert cells.match("b = a + 2")["cell_match"] == "edited"
    assert cells.match("a = 1")["cell_index"] == 2  # the same code again: the next copy of it
    assert cells.match("plot(b, 'y')") == {
        "cell_key": keys[3],
        "cell_index": 3,
        "cell_match": "edited",
    }
    assert cells.match("print('mine')") == {
        "cell_key": "new-id",
        "cell_index": None,
        "cell_match": "added",
    }
    assert cells.match("import antigravity")["cell_match"] == "added"
    assert cells.match(None)["cell_match"] is None
    assert cells.match("anything", keys[3])["cell_match"] == "edited"  # the front end said which
    assert cells.match("plot(b, 'x')", keys[3])["cell_match"] == "distributed"


def test_gclogs_own_magic_is_neither_the_notebooks_cell_nor_the_persons() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in ("%load_ext gclog", "x = 1")]
    cells = CellMap(Baseline.of(nb), code_cells(nb))
    # the publisher's own load cell is a distributed cell like any other
    assert cells.match("%load_ext gclog")["cell_match"] == "distributed"
    for code in ("%unload_ext gclog", "%reload_ext gclog  # again\n"):
        assert cells.match(code) == {"cell_key": None, "cell_index": None, "cell_match": "gclog"}
    assert cells.match("%unload_ext gclog", "its-own-id")["cell_match"] == "gclog"
    assert cells.match("%unload_ext gclog\nx = 2")["cell_match"] != "gclog"  # more than gclog's


def test_the_jupyter_server_names_the_notebook_of_a_kernel(env: Env) -> None:
    from test_server import TOKEN, Server

    server = Server(env)
    try:
        write_notebook(server.root / "lesson.ipynb", "1")
        session = server.api(
            "POST",
            "/api/sessions",
            {"path": "lesson.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}},
        )
        url = f"http://127.0.0.1:{server.port}/?token={TOKEN}"
        kernel_id = session["kernel"]["id"]
        assert notebook_of_kernel(url, kernel_id, server.root) == str(server.root / "lesson.ipynb")
        assert notebook_of_kernel(url, "not-a-kernel", server.root) is None
        from gclog.errors import GclogError

        with pytest.raises(GclogError, match="cannot list its sessions"):
            notebook_of_kernel(f"http://127.0.0.1:{server.port}/?token=wrong", kernel_id, None)
        with pytest.raises(GclogError, match="give the server's URL"):
            notebook_of_kernel("localhost:8888", kernel_id, None)
        server.api("DELETE", f"/api/sessions/{session['id']}")
    finally:
        server.stop()


def test_the_notebook_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    from gclog.enrich.cells import NotebookFile

    path = write_notebook(tmp_path / "t.ipynb", *CELLS)
    nb = nbformat.read(path, as_version=4)
    tracked = NotebookFile(path, Baseline.of(nb), nb)
    assert tracked.match("import os; os.listdir('.')") == {
        "cell_key": None,
        "cell_index": None,
        "cell_match": "added",
    }
    # the person adds a cell, and saves
    nb.cells.append(nbformat.v4.new_code_cell("import os; os.listdir('.')"))
    nbformat.write(nb, path)
    assert tracked.match("import os; os.listdir('.')") == {
        "cell_key": nb.cells[-1].id,
        "cell_index": None,
        "cell_match": "added",
    }
    path.write_text('{"cells": [')  # half-written by an editor: the last good read stays
    assert tracked.match("import os; os.listdir('.')")["cell_key"] == nb.cells[-1].id
    assert tracked.match(CELLS[0])["cell_match"] == "distributed"
