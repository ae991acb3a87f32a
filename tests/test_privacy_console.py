"""gclog's own console: what `run` shows as it goes and at the end, `gclog report`, and `attach`'s
lines never show code unscrubbed, through the real CLI and real kernels."""

from __future__ import annotations

import signal

import pytest
from helpers import DrivenKernel, Env, wait_for_cells, wait_for_session, write_notebook
from secret_corpus import SecretMaker
from test_scrubber import fragments

_M = SecretMaker(1414)
GITHUB = _M.github()
ACCOUNT_KEY = _M.chars(86) + "=="
PASSWORD = _M.password()
SECRETS = (GITHUB, ACCOUNT_KEY, PASSWORD)
# Each secret on a cell's first line, which is what the console shows of a cell.
CELLS = (
    f'token = "{GITHUB}"; import time; time.sleep(0.6)',
    f"conn = 'AccountName=ml;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net'",
    f"args = ['sshpass', '-p', '{PASSWORD}', 'ssh', 'gpu-box']; raise RuntimeError('no ssh')",
)


def assert_nothing_leaked(where: str, text: str) -> None:
    for secret in SECRETS:
        leaked = [piece for piece in fragments(secret) if piece in text]
        assert not leaked, f"{where} showed {leaked[:1]}:\n{text}"


@pytest.mark.parametrize("terminal", [False, True], ids=["lines", "bar"])
def test_run_and_report_show_cells_scrubbed(env: Env, terminal: bool) -> None:
    nb_path = write_notebook(env.root / "secrets.ipynb", *CELLS)
    extra = {"FORCE_COLOR": "1", "COLUMNS": "160"} if terminal else {}
    result = env.gclog("run", str(nb_path), "--allow-errors", timeout=120, **extra)
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    assert_nothing_leaked("gclog run", shown)
    # the console does show the cells, as scrubbed: the test sees what it claims to
    assert "<redacted:github_token>" in shown and "<redacted:password>" in shown, shown
    report = env.gclog("report", "--last")
    assert report.returncode == 0, report.stderr
    assert_nothing_leaked("gclog report", report.stdout + report.stderr)
    assert "<redacted:" in report.stdout, report.stdout


def test_attach_lines_show_cells_scrubbed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", env.vars["JUPYTER_RUNTIME_DIR"])
    kernel = DrivenKernel(env)
    try:
        proc = env.popen("attach", kernel.kernel_id)
        entry = wait_for_session(env)
        for cell in CELLS:
            kernel.execute(cell)
        wait_for_cells(env, entry["session_id"], len(CELLS))
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        kernel.shutdown()
    assert proc.returncode == 0, stderr
    assert_nothing_leaked("gclog attach", stdout + stderr)
    assert "<redacted:github_token>" in stdout + stderr, stdout + stderr
