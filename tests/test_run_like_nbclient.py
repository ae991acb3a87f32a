"""`gclog run` gives the executed notebook nbclient gives: history, display updates, widgets."""

from __future__ import annotations

import os

import nbformat
from helpers import Env, write_notebook

SEND_RESULT_WITH_ID = (
    "ip = get_ipython()\n"
    "def result_with_id(text, display_id):\n"
    "    content = {'data': {'text/plain': text}, 'metadata': {},\n"
    "               'transient': {'display_id': display_id}, 'execution_count': ip.execution_count}\n"
    "    ip.kernel.session.send(ip.kernel.iopub_socket, 'execute_result', content,\n"
    "                           parent=ip.kernel.get_parent())"
)


def run(env: Env, *cells: str) -> nbformat.NotebookNode:
    path = write_notebook(env.root / "n.ipynb", *cells)
    result = env.gclog("run", str(path))
    assert result.returncode == 0, result.stderr
    return nbformat.read(env.root / "n.gclog.ipynb", as_version=4)


def nbclient_run(env: Env, *cells: str) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(write_notebook(env.root / "ref.ipynb", *cells), as_version=4)
    saved = dict(os.environ)
    os.environ.update(env.vars)
    try:
        NotebookClient(nb, kernel_name="python3").execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def test_ipython_history_is_in_memory_as_nbclient_starts_it(env: Env) -> None:
    out = run(env, "hist = get_ipython().history_manager.hist_file\nprint(hist)")
    assert out.cells[0].outputs[0]["text"] == ":memory:\n"


def test_update_display_data_updates_an_execute_result_too(env: Env) -> None:
    cells = (
        SEND_RESULT_WITH_ID,
        "result_with_id('first', 'r1')",
        "from IPython.display import display, update_display\n"
        "display({'text/plain': 'shown'}, raw=True, display_id='d1')",
        "update_display({'text/plain': 'updated'}, raw=True, display_id='r1')\n"
        "update_display({'text/plain': 'also updated'}, raw=True, display_id='d1')",
    )
    out = run(env, *cells)
    assert out.cells[1].outputs[0]["output_type"] == "execute_result"
    assert out.cells[1].outputs[0]["data"] == {"text/plain": "updated"}
    assert out.cells[2].outputs[0]["data"] == {"text/plain": "also updated"}
    reference = nbclient_run(env, *cells)
    for ours, theirs in zip(out.cells, reference.cells, strict=True):
        assert [o.get("data") for o in ours.outputs] == [o.get("data") for o in theirs.outputs]


def test_widget_state_is_the_runs_own_as_nbclient_writes_it(env: Env) -> None:
    cells = (
        "import ipywidgets as w\nslider = w.IntSlider(value=3)\nslider",
        "slider.value = 7",
    )
    path = write_notebook(env.root / "n.ipynb", *cells)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"stale": True}}
    nbformat.write(nb, path)
    result = env.gclog("run", str(path))
    assert result.returncode == 0, result.stderr
    out = nbformat.read(env.root / "n.gclog.ipynb", as_version=4)
    ours = out.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert "stale" not in ours and ours["version_major"] == 2
    sliders = [m for m in ours["state"].values() if m["model_name"] == "IntSliderModel"]
    assert len(sliders) == 1 and sliders[0]["state"]["value"] == 7
    reference = nbclient_run(env, *cells)
    theirs = reference.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert sorted(m["model_name"] for m in ours["state"].values()) == sorted(
        m["model_name"] for m in theirs["state"].values()
    )
    # A run that makes no widget leaves the input's widget metadata as it was, as nbclient does.
    untouched = run(env, "1")
    assert "widgets" not in untouched.metadata
