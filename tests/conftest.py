"""Fixtures: an isolated gclog world per test, with real kernels and test kernelspecs."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Env


def _kernelspec(root: Path, name: str, argv: list[str]) -> None:
    spec_dir = root / "share" / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    home = tmp_path / "gclog-home"
    marker = uuid.uuid4().hex
    jupyter = tmp_path / "share" / "jupyter"
    _kernelspec(
        tmp_path,
        "missing-binary",
        ["/nonexistent/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    )
    _kernelspec(
        tmp_path,
        "exits-at-start",
        [
            sys.executable,
            "-c",
            "import sys; print('no accelerator found, giving up', file=sys.stderr); sys.exit(3)",
        ],
    )
    variables = {
        **os.environ,
        "GCLOG_HOME": str(home),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "JUPYTER_PATH": str(jupyter),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "GCLOG_TEST_MARKER": marker,
        "PYTHONUNBUFFERED": "1",
    }
    variables.pop("GCLOG_CONFIG", None)
    variables.pop("GCLOG_DISABLED", None)
    variables.pop("DO_NOT_TRACK", None)
    world = Env(root=tmp_path, home=home, vars=variables, marker=marker)
    yield world
    left = world.wait_no_leftovers(timeout=10)
    for proc in left:
        proc.kill()
    assert not left, f"processes left behind: {[p.cmdline() for p in left]}"
