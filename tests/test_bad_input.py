"""Bad input is exit 2 with one line, at once: numbers that are not numbers, undecodable files,
a malformed region or endpoint, an output path that cannot be written, a GCLOG_HOME that is a file.
Also the pipe a reader closed (`gclog export | head`), which is not an error at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Env, mount_tmpfs, one_line_error, unmount, write_notebook

from gclog.config import Paths, load_settings
from gclog.errors import ExitCode, GclogError
from gclog.files import write_atomic

NOT_NUMBERS = [
    ("GCLOG_TIMEOUT", "nan"),  # before: nan <= 0 is false, so the timeout was silently off
    ("GCLOG_TIMEOUT", "inf"),
    ("GCLOG_METRICS_INTERVAL", "inf"),  # before: two thread tracebacks, metrics stopped, exit 0
    ("GCLOG_METRICS_INTERVAL", "1e-9"),  # before: a busy loop
    ("GCLOG_METRICS_BUSY_INTERVAL", "-inf"),
    ("GCLOG_METRICS_WINDOW", "0.1"),
    ("GCLOG_SHIP_INTERVAL", "1e-9"),  # before: a busy loop
    ("GCLOG_FLUSH_TIMEOUT", "nan"),
    ("GCLOG_STARTUP_TIMEOUT", "1e-300"),
    ("GCLOG_RESTART_GRACE", "NaN"),
    ("GCLOG_STORE_MAX_MB", "nan"),
]


@pytest.mark.parametrize(("variable", "value"), NOT_NUMBERS)
def test_numbers_that_are_not_numbers_are_refused(
    tmp_path: Path, variable: str, value: str
) -> None:
    paths = Paths(state_dir=tmp_path, config_dir=tmp_path)
    with pytest.raises(GclogError, match=f"environment {variable}: expected"):
        load_settings(env={variable: value}, paths=paths)
    name = variable.removeprefix("GCLOG_").lower()
    (tmp_path / "config.toml").write_text(f"{name} = {value.lower()}\n")  # TOML's nan and inf
    with pytest.raises(GclogError, match=r"config file .*: expected"):
        load_settings(env={}, paths=paths)


def test_the_minimums_are_the_documented_ones(tmp_path: Path) -> None:
    paths = Paths(state_dir=tmp_path, config_dir=tmp_path)
    settings = load_settings(
        env={"GCLOG_METRICS_INTERVAL": "0.1", "GCLOG_TIMEOUT": "0"}, paths=paths
    )
    assert settings.metrics_interval == 0.1 and settings.timeout is None
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "| `metrics_interval` | `GCLOG_METRICS_INTERVAL` | 2 | 0.1 |" in readme


def test_a_bad_number_in_a_run_is_exit_2_before_the_kernel(env: Env) -> None:
    nb = write_notebook(env.root / "a.ipynb", "print(1)")
    result = env.gclog("run", str(nb), GCLOG_METRICS_INTERVAL="inf")
    assert result.returncode == ExitCode.BAD_INPUT
    assert "GCLOG_METRICS_INTERVAL" in one_line_error(result.stderr)
    result = env.gclog("run", str(nb), "--timeout", "nan")
    assert result.returncode == ExitCode.BAD_INPUT
    one_line_error(result.stderr)


def test_a_config_file_that_is_not_utf8_is_bad_input(env: Env) -> None:
    env.home.mkdir(parents=True, exist_ok=True)
    (env.home / "config.toml").write_bytes(b'privacy = "\xff\xfe full"\n')
    result = env.gclog("run", str(write_notebook(env.root / "a.ipynb", "print(1)")))
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "not UTF-8" in one_line_error(result.stderr)


def test_a_deeply_nested_notebook_is_bad_input(env: Env) -> None:
    nb = env.root / "deep.ipynb"
    nb.write_text("[" * 100_000 + "]" * 100_000)
    result = env.gclog("run", str(nb))
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "nested too deeply" in one_line_error(result.stderr)


def test_notebooks_are_validated_without_jsonschemas_format_checker_libraries(
    tmp_path: Path,
) -> None:
    """gclog keeps them out of its process (gclog/entry/lean.py): nbformat validates as ever."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gclog.entry.lean import FORMAT_CHECKER_MODULES, skip_format_checker_imports\n"
        "skip_format_checker_imports()\n"
        "from gclog.errors import GclogError\n"
        "from gclog.jupyter import notebook\n"
        "print(len(notebook.load(Path(sys.argv[1])).cells))\n"
        "try:\n    notebook.load(Path(sys.argv[2]))\nexcept GclogError as exc:\n    print(exc)\n"
        "print(sorted(m for m in (*FORMAT_CHECKER_MODULES, 'arrow') if sys.modules.get(m)))\n"
    )
    write_notebook(tmp_path / "good.ipynb", "x = 1", "x + 1")
    broken = json.loads((tmp_path / "good.ipynb").read_text())
    broken["cells"][0]["cell_type"] = "kode"
    (tmp_path / "bad.ipynb").write_text(json.dumps(broken))
    argv = [sys.executable, "-c", code, str(tmp_path / "good.ipynb"), str(tmp_path / "bad.ipynb")]
    result = subprocess.run(argv, capture_output=True, text=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "2", result.stderr
    assert "not a valid Jupyter notebook" in lines[1]
    assert lines[2] == "[]"


@pytest.mark.parametrize(
    "flags",
    [
        ["--region", "us east 1"],
        ["--region", "us-east-1", "--endpoint-url", "localhost:4573"],
        ["--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:99999"],
        ["--region", "us-east-1", "--endpoint-url", "ftp://example.com"],
    ],
)
def test_a_malformed_region_or_endpoint_is_exit_2_at_once(env: Env, flags: list[str]) -> None:
    # Before: retried as a network error for 15 s, then exit 5.
    result = env.gclog("flush", "--sink", "firehose", "--stream", "s", *flags, timeout=30)
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "--region" in one_line_error(result.stderr) or "--endpoint-url" in result.stderr


def test_gclog_home_that_is_a_file_is_bad_input(env: Env) -> None:
    home = env.root / "a-file"
    home.write_text("not a directory")
    for command in (["status"], ["flush", "--sink", "firehose", "--stream", "s"]):
        result = env.gclog(*command, GCLOG_HOME=str(home))
        assert result.returncode == ExitCode.BAD_INPUT, (command, result.stderr)
        assert "not a directory" in one_line_error(result.stderr)


def test_export_into_a_closed_pipe_exits_0(env: Env) -> None:
    # More than a pipe holds (64 KiB), so export is still writing when the reader goes.
    ran = env.gclog("run", str(write_notebook(env.root / "a.ipynb", *["print('x' * 4000)"] * 40)))
    assert ran.returncode == 0, ran.stderr
    export = subprocess.Popen(
        [sys.executable, "-m", "gclog", "export"],
        env=env.vars,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert export.stdout is not None and export.stderr is not None
    export.stdout.readline()
    export.stdout.close()  # what `head -1` does
    assert export.wait(60) == 0
    assert export.stderr.read() == b""


# -- where files are written --


def test_writing_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.ndjson"
    real.write_text("old\n")
    link = tmp_path / "link.ndjson"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_a_device_is_written_into_never_replaced(tmp_path: Path) -> None:
    read, write = os.pipe()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    write_atomic(fifo, "through the pipe\n")
    assert reader.communicate(timeout=10)[0] == b"through the pipe\n"
    assert fifo.is_fifo()
    os.close(read)
    os.close(write)


def test_export_to_a_symlink_follows_it(env: Env) -> None:
    env.gclog("run", str(write_notebook(env.root / "a.ipynb", "print(1)")))
    real = env.root / "real.ndjson"
    real.write_text("")
    link = env.root / "link.ndjson"
    link.symlink_to(real)
    result = env.gclog("export", "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and real.read_text().count("\n") >= 3


def test_an_output_path_that_cannot_be_written_fails_before_the_kernel(
    env: Env, read_only_dir: Path
) -> None:
    nb = write_notebook(env.root / "a.ipynb", "open('ran', 'w').write('x')")
    result = env.gclog("run", str(nb), "-o", str(read_only_dir / "out.ipynb"))
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "cannot write" in one_line_error(result.stderr)
    assert not (env.root / "ran").exists()  # no cell ran
    assert not env.store.exists() or env.records() == []


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only file system (permission bits do not stop root), or skip saying why."""
    where = tmp_path / "ro"
    why_not = mount_tmpfs(where, "size=1m,ro")
    if why_not is not None:
        if os.geteuid() == 0:
            pytest.skip(f"cannot mount a read-only tmpfs: {why_not}")
        where.chmod(0o555)  # not root: the permission bits do it
        yield where
        return
    yield where
    unmount(where)
