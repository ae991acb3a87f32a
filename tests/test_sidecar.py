"""The extension's side of the sidecar's ready pipe: what the child says, however much it says."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from gclog.entry import sidecar
from gclog.errors import GclogError


def fake_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A stand-in for ``python -m gclog attach …``: a shell script that says what ``body`` says."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "executable", str(script))


CHATTY = "head -c 2000000 /dev/zero | tr '\\\\0' x >&2; echo >&2"


def test_a_chatty_sidecar_does_not_block_on_its_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_python(tmp_path, monkeypatch, f"{CHATTY}\necho 'ready s-1'\nexec sleep 30")
    background = sidecar.start_in_background(tmp_path / "kernel.json", "extension", timeout=20)
    try:
        assert background.session_id == "s-1" and background.process is not None
    finally:
        assert background.process is not None
        background.process.kill()
        background.process.wait()


def test_a_failing_sidecar_gives_its_own_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = f"{CHATTY}\necho 'gclog: error: {tmp_path}/kernel.json: no such connection file' >&2\nexit 2"
    fake_python(tmp_path, monkeypatch, body)
    with pytest.raises(
        GclogError, match=r"could not start observing the kernel: .*no such connection"
    ):
        sidecar.start_in_background(tmp_path / "kernel.json", "extension", timeout=20)


def test_a_sidecar_that_never_answers_is_ended_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pid"
    fake_python(tmp_path, monkeypatch, f"echo $$ > {marker}\nexec sleep 60")
    with pytest.raises(GclogError, match="did not start in time"):
        sidecar.start_in_background(tmp_path / "kernel.json", "extension", timeout=1)
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # ended and reaped, not left behind
