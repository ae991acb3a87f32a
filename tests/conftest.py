"""Fixtures: an isolated gclog world per test, with real kernels and test kernelspecs."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from firehose_helpers import AWS_TEST_ENV, FaultProxy, FirehoseWorld, MotoFirehose
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


# -- a real Firehose endpoint (moto's server) and a fault proxy in front of it ----------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def firehose(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FirehoseWorld]:
    """A fresh bucket and stream on moto, a fault proxy before it, and fake AWS credentials."""
    variables = {
        **AWS_TEST_ENV,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "GCLOGGER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    proxy = FaultProxy(moto_endpoint)
    world = FirehoseWorld(MotoFirehose(moto_endpoint), proxy, variables)
    yield world
    proxy.close()
