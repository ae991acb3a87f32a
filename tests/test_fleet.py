"""A fleet of real sessions: 20 installs (20 GCLOG_HOMEs), each on its own copy of one stamped
tutorial notebook, through `gclog run`, `gclog attach --notebook` and the extension loaded at kernel
start by IPython's configuration (as a platform turns it on), with kernels driven by an independent
jupyter_client client that sets JPY_SESSION_NAME as jupyter_server does. Planted: people stopping
at different cells, a ModuleNotFoundError for some, an edited cell (saved, and not saved), re-runs,
added cells. `gclog analyze --json` over their exports, and over what Firehose delivered to S3
(moto), reports exactly what was planted."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from firehose_helpers import FirehoseWorld
from helpers import Env, start_ready, write_notebook

CELLS = (
    "import json",
    "data = [1, 2, 3]",
    "import fleet_helper_module",  # present in some copies' folders only
    "total = sum(data)\nprint(total)",
    "print(json.dumps({'total': total}))",
)
EDITED = "total = sum(data) * 10\nprint('edited', total)"
INSTALLS = 20


@dataclass
class Person:
    """One install and what its person does. ``runs``: cell indices (None: a cell of their own)."""

    n: int
    mode: str  # run, attach, extension
    has_module: bool = True
    saved_edit: bool = False  # c3 edited and saved in their copy (cell id kept)
    unsaved_edit: bool = False  # c3 edited in the front end, not saved
    stop_after: int = 4
    rerun: int | None = None  # a cell run twice
    added: bool = False  # a cell of their own, run last
    expected_end: str = "completed"

    def executions(self) -> list[tuple[int | None, str, bool]]:
        """(cell index, status, edited) of each execution, as planted."""
        out: list[tuple[int | None, str, bool]] = []
        for index in range(self.stop_after + 1):
            if index == 2 and not self.has_module:
                out.append((2, "error", False))
                return out  # they give up here (gclog run stops here too)
            edited = index == 3 and (self.saved_edit or self.unsaved_edit)
            out.append((index, "ok", edited))
            if index == self.rerun:
                out.append((index, "ok", edited))
        if self.added:
            out.append((None, "ok", False))
        return out


def plan() -> list[Person]:
    people = []
    for n in range(INSTALLS):
        mode = "run" if n < 10 else "attach" if n < 15 else "extension"
        person = Person(n, mode, has_module=n % 4 != 0)
        if n in (2, 3, 11):
            person.saved_edit = True
        if n == 18:
            person.unsaved_edit = True
        if n == 10:
            person.rerun = 1
        if n == 15:
            person.rerun = 4
        if n == 13:
            person.stop_after = 1
        if n == 17:
            person.stop_after = 3
        if n in (6, 19):
            person.added = True
        if mode == "run" and not person.has_module:
            person.expected_end = "cell_error"
        if mode == "extension":
            person.expected_end = "unloaded"
        people.append(person)
    return people


@dataclass
class Install:
    person: Person
    home: Path
    folder: Path
    notebook: Path
    vars: dict[str, str] = field(default_factory=dict)


def make_install(env: Env, person: Person, tutorial: Path) -> Install:
    folder = env.root / f"person{person.n}" / "work"
    folder.mkdir(parents=True)
    notebook = Path(shutil.copy(tutorial, folder / "tutorial.ipynb"))
    if person.has_module:
        (folder / "fleet_helper_module.py").write_text("HELPER = True\n")
    nb = nbformat.read(notebook, as_version=4)
    if person.saved_edit:
        nb.cells[3].source = EDITED  # as JupyterLab saves it: same id, new source
    if person.added and person.mode == "run":
        nb.cells.append(nbformat.v4.new_code_cell("print('a cell of my own')"))
    nbformat.write(nb, notebook)
    home = env.root / f"person{person.n}" / "gclog-home"
    ipython = env.root / f"person{person.n}" / "ipython"
    variables = {**env.vars, "GCLOG_HOME": str(home), "IPYTHONDIR": str(ipython)}
    if person.mode == "extension":  # how a platform turns gclog on for every kernel
        profile = ipython / "profile_default"
        profile.mkdir(parents=True)
        (profile / "ipython_kernel_config.py").write_text(
            'c.InteractiveShellApp.extensions = ["gclog"]\n'
        )
    return Install(person, home, folder, notebook, variables)


def gclog(install: Install, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run(
        [sys.executable, "-m", "gclog", *args],
        env=install.vars,
        cwd=install.folder,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def code_of(install: Install, index: int | None) -> str:
    if index is None:
        return "print('a cell of my own')"
    if index == 3 and (install.person.saved_edit or install.person.unsaved_edit):
        return EDITED
    return CELLS[index]


def wait_until(check: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout}s")


def observing(install: Install) -> bool:
    sessions = install.home / "sessions"
    for path in sessions.glob("*.json") if sessions.is_dir() else []:
        try:
            if json.loads(path.read_text()).get("state") == "observing":
                return True
        except (OSError, ValueError):
            continue
    return False


def drive(install: Install) -> None:
    """A front end's kernel (jupyter_client), its notebook named by JPY_SESSION_NAME."""
    import sys

    from jupyter_client import KernelManager

    person = install.person
    runtime = install.folder.parent / "runtime"
    runtime.mkdir()
    manager = KernelManager(
        kernel_name="python3", connection_file=str(runtime / f"kernel-fleet-{person.n}.json")
    )
    client = start_ready(
        manager,
        timeout=90,
        env={**install.vars, "JPY_SESSION_NAME": str(install.notebook)},
        cwd=str(install.folder),
    )
    attach = None
    try:
        if person.mode == "attach":
            attach = subprocess.Popen(
                [sys.executable, "-m", "gclog", "attach", manager.connection_file,
                 "--notebook", str(install.notebook)],
                env=install.vars, cwd=install.folder,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
        wait_until(lambda: observing(install), f"install {person.n} observing")
        for index, _, _ in person.executions():
            client.execute_interactive(
                code_of(install, index), timeout=60, output_hook=lambda m: None
            )
        if person.mode == "extension":
            client.execute_interactive("%unload_ext gclog", timeout=60, output_hook=lambda m: None)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)
    if attach is not None:
        _, err = attach.communicate(timeout=60)
        assert attach.returncode == 0, err


def session_of(install: Install) -> None:
    person = install.person
    if person.mode == "run":
        result = gclog(install, "run", str(install.notebook), "--no-metrics")
        assert result.returncode == (1 if person.expected_end == "cell_error" else 0), result.stderr
    else:
        drive(install)
    wait_until(
        lambda: "session_end" in gclog(install, "export").stdout, f"install {person.n} ended"
    )


def expected(people: list[Person]) -> dict[str, Any]:
    """The planted numbers, counted from the plan (not from any record)."""
    reached: dict[int, set[int]] = defaultdict(set)
    executions: dict[int, int] = defaultdict(int)
    failed: dict[int, set[int]] = defaultdict(set)
    edited: dict[int, int] = defaultdict(int)
    ends: dict[tuple[int | None, str], int] = defaultdict(int)
    added = 0
    for person in people:
        runs = person.executions()
        for index, status, was_edited in runs:
            if index is None:
                added += 1
                continue
            reached[index].add(person.n)
            executions[index] += 1
            edited[index] += was_edited
            if status == "error":
                failed[index].add(person.n)
        ends[(runs[-1][0], person.expected_end)] += 1
    return {
        "reached": {i: len(s) for i, s in reached.items()},
        "executions": dict(executions),
        "failed": {i: len(failed[i]) for i in reached},
        "edited": dict(edited),
        "ends": dict(ends),
        "added": added,
    }


@pytest.mark.timeout(900)
def test_a_fleet_of_real_sessions_gives_the_planted_answers(
    env: Env, firehose: FirehoseWorld
) -> None:
    tutorial = write_notebook(env.root / "tutorial.ipynb", *CELLS)
    stamped = subprocess.run(
        [*_gclog(), "stamp", str(tutorial), "--id", "tutorial-2026"],
        env=env.vars, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert stamped.returncode == 0, stamped.stderr
    people = plan()
    installs = [make_install(env, person, tutorial) for person in people]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(session_of, installs))

    exports = env.root / "exports"
    exports.mkdir()
    for install in installs:
        export = gclog(install, "export", "-o", str(exports / f"{install.person.n}.ndjson"))
        assert export.returncode == 0, export.stderr
        lines = (exports / f"{install.person.n}.ndjson").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert {r["source"] for r in records} == {install.person.mode}
        assert len({r["session_id"] for r in records}) == 1
        assert str(install.folder) not in "\n".join(lines)  # never the path
    answers = _analyze(env, str(exports))
    _check(answers, people, installs)

    # The same records through Firehose (moto) to S3: the objects as a directory, and as s3://.
    sink = firehose.aws_env | {"GCLOG_SINK": "firehose"}
    for install in installs:
        install.vars.update(sink)
        flushed = gclog(
            install, "flush", "--stream", firehose.moto.stream,
            "--endpoint-url", firehose.moto.endpoint, "--region", "us-east-1",
        )  # fmt: skip
        assert flushed.returncode == 0, flushed.stderr
    delivered = env.root / "bucket"
    for n, body in enumerate(firehose.moto.objects()):
        hour = delivered / "2026" / "12" / "02" / f"{n % 3:02d}"
        hour.mkdir(parents=True, exist_ok=True)
        (hour / f"object-{n}").write_bytes(body)
    assert _analyze(env, str(delivered)) == answers
    from_s3 = _analyze(
        env, f"s3://{firehose.moto.bucket}/", "--endpoint-url", firehose.moto.endpoint,
        extra=firehose.aws_env,
    )  # fmt: skip
    assert from_s3 == answers


def _gclog() -> list[str]:
    import sys

    return [sys.executable, "-m", "gclog"]


def _analyze(env: Env, *args: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [*_gclog(), "analyze", "--json", "--min-users", "1", *args],
        env={**env.vars, **(extra or {})}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check(answers: dict[str, Any], people: list[Person], installs: list[Install]) -> None:
    want = expected(people)
    (nb,) = answers["notebooks"]  # one notebook: every copy, edited or not, joins as one
    assert nb["notebook"] == "tutorial-2026"
    assert (nb["sessions"], nb["users"]) == (INSTALLS, INSTALLS)
    cells = {c["index"]: c for c in nb["cells"]}
    assert sorted(cells) == [0, 1, 2, 3, 4]
    original = nbformat.read(installs[0].notebook, as_version=4)  # ids are kept by every copy
    assert [cells[i]["cell"] for i in range(5)] == [c.id for c in original.cells]
    assert {i: c["reached"] for i, c in cells.items()} == want["reached"]
    assert {i: c["executions"] for i, c in cells.items()} == want["executions"]
    assert {i: c["failed_sessions"] for i, c in cells.items()} == want["failed"]
    assert cells[2]["errors"] == [
        {
            "ename": "ModuleNotFoundError",
            "signature": "ModuleNotFoundError: No module named 'fleet_helper_module'",
            "sessions": want["failed"][2],
        }
    ]
    # the edited cell is mapped to its original (saved edits and an unsaved one alike)
    assert cells[3]["edited_share"] == round(want["edited"][3] / want["executions"][3], 6)
    assert all(cells[i]["edited_share"] == 0 for i in (0, 1, 2, 4))
    assert cells[1]["reruns"] == 1 and cells[4]["reruns"] == 1
    assert nb["added_executions"] == want["added"]
    ends = {(e["index"], e["reason"]): e["sessions"] for e in nb["ends"]}
    assert ends == want["ends"]
