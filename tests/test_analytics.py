"""The seed's analytics fields: compile time, code modified, framework versions of the kernel."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import write_notebook

from gclog.enrich.compile_time import clock_seconds, compile_time
from gclog.enrich.frameworks import KernelProcess, framework_versions
from gclog.enrich.saved_cells import SavedCells
from gclog.setting_types import parse_frameworks

BAR = "Graph compilation: {pct:>3}%|{bar:<10}| {n}/100 [{clock}<{left}]"


def bar(pct: int, clock: str, left: str = "00:00") -> str:
    return BAR.format(pct=pct, bar="█" * (pct // 10), n=pct, clock=clock, left=left)


# -- compile time ------------------------------------------------------------------------------------


def test_the_last_render_of_an_ipu_progress_bar_gives_the_compile_time() -> None:
    redraws = "\r".join(bar(p, f"00:{p // 4:02d}", "00:10") for p in (0, 40, 80)) + "\r"
    text = "Compiling model\n" + redraws + bar(100, "02:13") + "\r" + bar(100, "02:13") + "\n"
    assert compile_time([text]) == 133.0


def test_separate_compilations_add_up_and_hours_count() -> None:
    text = f"{bar(100, '00:30')}\ntraining...\n{bar(100, '1:00:05')}\n"
    assert compile_time(["", text]) == 30.0 + 3605.0


def test_jax_compile_logs_are_read_too() -> None:
    log = (
        "WARNING:jax._src.dispatch:Finished XLA compilation of jit(train_step) in 1.25 sec\n"
        "WARNING:jax._src.dispatch:Finished XLA compilation of jit(eval_step) in 0.5 sec\n"
    )
    assert compile_time([log]) == 1.75


@pytest.mark.parametrize(
    "text",
    ["", "no compiling here", bar(50, "00:10", "00:10"), "Graph compilation: 100% done"],
)
def test_no_finished_compilation_means_none(text: str) -> None:
    assert compile_time([text]) is None


def test_clock_seconds() -> None:
    assert clock_seconds("02:13") == 133 and clock_seconds("1:02:03") == 3723


# -- code modified -----------------------------------------------------------------------------------


def test_code_modified_compares_with_the_saved_cells(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "n.ipynb", "x = 1\nprint(x)", "y = 2")
    saved = SavedCells.from_path(path)
    assert saved is not None
    assert saved.modified("x = 1\nprint(x)") is False
    assert saved.modified("x = 1   \nprint(x)\n\n") is False  # trailing whitespace is noise
    assert saved.modified("x = 2\nprint(x)") is True
    assert saved.modified(None) is None


def test_an_unreadable_notebook_means_unknown_not_an_error(tmp_path: Path) -> None:
    assert SavedCells.from_path(tmp_path / "missing.ipynb") is None
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert SavedCells.from_path(tmp_path / "bad.ipynb") is None


# -- framework versions of the kernel's environment --------------------------------------------------


def fake_distribution(site: Path, name: str, version: str) -> Path:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return site


def test_versions_come_from_the_kernels_environment_not_gclogs(tmp_path: Path) -> None:
    site = fake_distribution(tmp_path / "site", "torch", "9.8.7")
    fake_distribution(site, "poptorch-geometric", "3.3.0")
    kernel = KernelProcess(
        python=sys.executable, environ={**os.environ, "PYTHONPATH": str(site)}, cwd=str(tmp_path)
    )
    found = framework_versions(kernel, ("torch", "poptorch-geometric", "hypothesis", "nope-xyz"))
    assert found.note is None
    assert found.versions == {
        "torch": "9.8.7",
        "poptorch-geometric": "3.3.0",
        "hypothesis": importlib.metadata.version("hypothesis"),
        "nope-xyz": None,
    }
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("torch")  # gclog's own environment has no torch


def test_the_kernel_process_gives_its_interpreter_as_started_and_its_environment() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        env={**os.environ, "GCLOG_TEST_KERNEL_ENV": "seen"},
    )
    try:
        deadline = time.monotonic() + 10
        kernel = KernelProcess.of(proc.pid)
        while kernel.environ.get("GCLOG_TEST_KERNEL_ENV") != "seen" and time.monotonic() < deadline:
            time.sleep(0.05)  # the exec may not have happened yet
            kernel = KernelProcess.of(proc.pid)
        # The path it was started with, not the resolved executable: a venv's python is a symlink
        # to the base interpreter, which does not see the venv's packages.
        assert kernel.python == sys.executable
        assert kernel.environ["GCLOG_TEST_KERNEL_ENV"] == "seen"
    finally:
        proc.kill()
        proc.wait()


def test_unknown_versions_say_why(tmp_path: Path) -> None:
    assert framework_versions(KernelProcess(python=None), ("torch",)).versions == {"torch": None}
    assert "not a Python" in (framework_versions(KernelProcess(python=None), ("torch",)).note or "")
    slow = tmp_path / "python-slow"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    late = framework_versions(KernelProcess(python=str(slow)), ("torch",), timeout=0.3)
    assert late.versions == {"torch": None} and "took over" in (late.note or "")
    broken = tmp_path / "python-broken"
    broken.write_text("#!/bin/sh\necho nonsense\nexit 1\n")
    broken.chmod(0o755)
    failed = framework_versions(KernelProcess(python=str(broken)), ("torch",))
    assert failed.versions == {"torch": None} and "exit 1" in (failed.note or "")
    gone = framework_versions(KernelProcess(python=str(tmp_path / "python-none")), ("torch",))
    assert "cannot run" in (gone.note or "")


def test_the_frameworks_setting() -> None:
    assert parse_frameworks("torch, jax  transformers") == ("torch", "jax", "transformers")
    with pytest.raises(ValueError, match="not a distribution name"):
        parse_frameworks("torch;rm -rf")
