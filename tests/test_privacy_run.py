"""Privacy end to end: real kernels print real-shaped secrets; gclog keeps none of them.

``persisted`` (helpers.py) collects everything gclog wrote; when records are shipped, the shipped
objects join it and the same assertions cover them.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import nbformat
from firehose_helpers import FirehoseWorld
from helpers import Env, by_type, persisted, write_notebook
from secret_cases import format_corpus, named_corpus
from secret_corpus import planted_corpus
from test_scrubber import LAYOUT, fragments

# The first corpus, the issue-14 cases, and every other token format (test_scrubber.py has them
# all; a smaller notebook keeps these real-kernel runs light). Not the transcripts found by their
# layout on screen (a wrapped table): a cell's code holds them escaped.
PLANTED = [
    p
    for p in planted_corpus(seed=61) + named_corpus(seed=62) + format_corpus(seed=63)[::4]
    if p.context not in LAYOUT
]


def secrets_notebook(path: Path) -> Path:
    """Every planted transcript, through every channel a cell has: code, stdout, stderr, results,
    displays, an exception's message and traceback. Odd ones are printed from base64, so the
    secret is in the output only and the output's scrubbing is tested on its own."""
    cells: list[str] = []
    for i, planted in enumerate(PLANTED):
        text = planted.text
        if i % 2:
            source = f"base64.b64decode({base64.b64encode(text.encode()).decode()!r}).decode()"
        else:
            source = repr(text)
        channel = i % 5
        if channel in (0, 1):
            cells.append(f"import base64, sys\nprint({source})")
        elif channel == 2:
            cells.append(f"import base64, sys\nprint({source}, file=sys.stderr)")
        elif channel == 3:
            cells.append(f"import base64\nfrom IPython.display import display\ndisplay({source})")
        else:
            cells.append(f"import base64\nraise RuntimeError({source})")
    cells.append(
        "import base64\n" + ";".join(f"x{i} = {p.text!r}" for i, p in enumerate(PLANTED[:5]))
    )
    return write_notebook(path, *cells)


def assert_no_secret_in(blobs: dict[str, bytes]) -> None:
    assert blobs, "nothing was persisted: the test would prove nothing"
    for planted in PLANTED:
        for value in planted.values:
            for piece in fragments(value):
                forms = {piece.encode(), json.dumps(piece)[1:-1].encode()}
                for where, blob in blobs.items():
                    assert not any(form in blob for form in forms), (
                        f"{planted.kind} ({planted.context}) leaked into {where}: {piece!r}"
                    )


def test_no_planted_secret_reaches_anything_gclog_keeps_or_ships(
    env: Env, firehose: FirehoseWorld
) -> None:
    nb_path = secrets_notebook(env.root / "secrets.ipynb")
    result = env.gclog(
        "run", str(nb_path), "--allow-errors", *firehose.flags(), timeout=300, **firehose.aws_env
    )
    assert result.returncode == 0, result.stderr

    # The kernel really printed them: the executed notebook (the user's own file) holds them.
    executed = (env.root / "secrets.gclog.ipynb").read_text()
    assert all(any(p in executed for p in fragments(v)) for pl in PLANTED for v in pl.values)

    records = env.records()
    cells = by_type(records, "cell")
    assert len(cells) == len(PLANTED) + 1
    shipped = firehose.moto.objects()
    assert {e["event_id"] for e in firehose.moto.delivered()} == {r["event_id"] for r in records}
    assert_no_secret_in(persisted(env, {f"S3 object {i}": b for i, b in enumerate(shipped)}))
    kinds = {kind for record in records for kind in record.get("redactions", {})}
    assert {p.kind for p in PLANTED} <= kinds, {p.kind for p in PLANTED} - kinds
    errors = [c for c in cells if c["status"] == "error"]
    assert errors and all("<redacted:" in c["error"]["evalue"] for c in errors)
    assert any("<redacted:" in (c["output"]["stderr"] or "") for c in cells)
    assert any("<redacted:" in (c["output"]["result"] or "") for c in cells)
    assert result.stderr.count("gclog records how this notebook is used") == 1


def test_metadata_keeps_no_code_and_no_output_text(env: Env) -> None:
    nb_path = secrets_notebook(env.root / "secrets.ipynb")
    result = env.gclog("run", str(nb_path), "--allow-errors", "--privacy", "metadata", timeout=300)
    assert result.returncode == 0, result.stderr
    records = env.records()
    assert records[0]["privacy"] == "metadata" and records[0]["notebook"]["name"] is None
    for cell in by_type(records, "cell"):
        assert cell["code"] is None and len(cell["code_sha256"]) == 64
        out = cell["output"]
        assert out["stdout"] is None and out["stderr"] is None and out["result"] is None
        if cell["status"] == "ok" and out["count"]:
            assert sum(out["bytes_by_mime"].values()) > 0  # sizes stay
        if cell["status"] == "error":
            assert cell["error"]["evalue"] is None and cell["error"]["traceback"] is None
            assert cell["error"]["ename"] == "RuntimeError"
    assert_no_secret_in(persisted(env))


def one_line_about_opting_out(stderr: str, reason: str) -> None:
    assert "Traceback" not in stderr
    said = [line for line in stderr.splitlines() if line.startswith("gclog: recording is off")]
    assert said == [f"gclog: recording is off ({reason}): nothing is recorded or sent"], stderr
    assert "gclog records how" not in stderr  # nothing is collected, so no notice either


def test_opting_out_runs_the_notebook_and_touches_no_store(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "print('still runs')")
    for variables, reason in (
        ({"GCLOG_DISABLED": "1"}, "GCLOG_DISABLED=1"),
        ({"DO_NOT_TRACK": "yes"}, "DO_NOT_TRACK=yes"),
    ):
        result = env.gclog("run", str(nb_path), "-o", str(env.root / "out.ipynb"), **variables)
        assert result.returncode == 0, result.stderr
        one_line_about_opting_out(result.stderr, reason)
        out = nbformat.read(env.root / "out.ipynb", as_version=4)
        assert out.cells[0].outputs[0].text == "still runs\n"
        assert not env.home.exists(), sorted(env.home.rglob("*"))
    counted = env.gclog("run", str(nb_path), DO_NOT_TRACK="0")
    assert counted.returncode == 0
    kinds = [r["event_type"] for r in env.records() if r["event_type"] != "metrics"]
    assert kinds == ["session_start", "cell", "session_end"]


def test_a_nonsense_opt_out_value_stops_before_running(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "print(1)")
    result = env.gclog("run", str(nb_path), GCLOG_DISABLED="perhaps")
    assert result.returncode == 2 and "GCLOG_DISABLED" in result.stderr
    assert not env.home.exists()


def test_the_disclosure_shows_on_first_use_only(env: Env) -> None:
    nb_path = write_notebook(env.root / "n.ipynb", "1")
    first = env.gclog("run", str(nb_path))
    second = env.gclog("run", str(nb_path))
    assert first.returncode == second.returncode == 0
    assert "gclog records how this notebook is used" in first.stderr
    assert "gclog records how" not in second.stderr


def kernelspec(env: Env, name: str, extra_env: dict[str, str]) -> None:
    spec = env.root / "share" / "jupyter" / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python", "env": extra_env})
    )


def test_session_start_and_cells_carry_the_seeds_analytics_fields(env: Env) -> None:
    site = env.root / "kernel-site" / "torch-9.8.7.dist-info"
    site.mkdir(parents=True)
    site.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 9.8.7\n")
    kernelspec(env, "with-torch", {"PYTHONPATH": str(site.parent)})
    bar = "Graph compilation: 100%|██████████| 100/100 [{}<00:00]"
    nb_path = write_notebook(
        env.root / "n.ipynb",
        "import sys, time\n"
        f"print({bar.format('00:40')!r}.replace('100%', ' 50%'), end='\\r', file=sys.stderr)\n"
        f"print({bar.format('01:05')!r}, file=sys.stderr)",
        "import os; print(os.environ['PAPERSPACE_NOTEBOOK_ID'], os.environ['HF_TOKEN'][:3])",
        kernel="with-torch",
    )
    variables = {
        "PAPERSPACE_NOTEBOOK_ID": "nbx7k2q9vz",
        "PAPERSPACE_CLUSTER_ID": "clu4r8s2",
        "PAPERSPACE_NOTEBOOK_REPO_ID": "repo-77",
        "TIER_TYPE": "FREE",
        "HF_TOKEN": "hf_" + "Ab" * 17,
        "SOME_OTHER_VARIABLE": "never-read-42",
    }
    result = env.gclog("run", str(nb_path), **variables)
    assert result.returncode == 0, result.stderr
    records = env.records()
    start = records[0]
    variables_seen: dict[str, Any] = start["environment"]["variables"]
    assert variables_seen["PAPERSPACE_NOTEBOOK_REPO_ID"] == "repo-77"
    assert variables_seen["TIER_TYPE"] == "FREE"
    for hashed in ("PAPERSPACE_NOTEBOOK_ID", "PAPERSPACE_CLUSTER_ID"):
        assert (
            variables_seen[hashed].startswith("hmac-sha256:") and len(variables_seen[hashed]) == 76
        )
    assert set(variables_seen) == {
        "PAPERSPACE_NOTEBOOK_REPO_ID",
        "PAPERSPACE_NOTEBOOK_ID",
        "PAPERSPACE_CLUSTER_ID",
        "TIER_TYPE",
    }
    assert start["environment"]["host_id"].startswith("hmac-sha256:")
    assert start["frameworks"]["torch"] == "9.8.7"  # the kernel's environment, not gclog's
    assert start["frameworks"]["tensorflow"] is None and start["frameworks_note"] is None
    first, second = by_type(records, "cell")
    assert first["compile_time_s"] == 65.0 and second["compile_time_s"] is None
    assert first["code_modified"] is False and second["code_modified"] is False
    assert 0 < first["logger_uptime_s"] <= second["logger_uptime_s"]
    # The notebook id printed by the cell is an identifier: the redacted level hides it.
    assert second["output"]["stdout"] == "<redacted:identifier> hf_\n"
    blobs = persisted(env)
    for raw in ("nbx7k2q9vz", "clu4r8s2", "never-read-42", "Ab" * 17):
        assert not any(raw.encode() in blob for blob in blobs.values()), raw


def test_gclog_privacy_prints_what_is_collected(env: Env) -> None:
    default = env.gclog("privacy")
    assert default.returncode == 0 and "level 'redacted'" in default.stdout
    assert "recording: on" in default.stdout and "    code " in default.stdout
    metadata = env.gclog("privacy", "--privacy", "metadata")
    assert "level 'metadata'" in metadata.stdout and "[not collected]" in metadata.stdout
    off = env.gclog("privacy", DO_NOT_TRACK="1")
    assert "recording: off (DO_NOT_TRACK=1)" in off.stdout
    assert not env.home.exists()  # describing collects nothing
