"""`gclog export`: NDJSON of what is stored, by session, prefix or the last one."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import Env, one_line_error

from gclog.store.store import Store


def fill(env: Env, sessions: dict[str, int]) -> None:
    with Store(env.store) as store:
        for session, count in sessions.items():
            for seq in range(1, count + 1):
                store.append(
                    {
                        "session_id": session,
                        "seq": seq,
                        "event_type": "cell",
                        "event_time": "2026-12-01T00:00:00.000000Z",
                        "code": "print('é\\n')",
                    }
                )


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_all_last_and_by_prefix(env: Env) -> None:
    fill(env, {"aaaa-1111": 2, "aaab-2222": 3, "bbbb-3333": 1})
    every = env.gclog("export")
    assert every.returncode == 0 and len(lines(every.stdout)) == 6
    last = lines(env.gclog("export", "--last").stdout)
    assert [r["session_id"] for r in last] == ["bbbb-3333"]
    by_prefix = lines(env.gclog("export", "--session", "aaab").stdout)
    assert [r["seq"] for r in by_prefix] == [1, 2, 3]
    assert by_prefix[0]["code"] == "print('é\\n')"


def test_last_is_the_session_started_last_not_the_one_that_wrote_last(env: Env) -> None:
    """Two live sessions: the older one's metric window lands after the newer one started."""
    with Store(env.store) as store:
        for session, seq, kind, when in [
            ("older", 1, "session_start", "2026-12-01T10:00:00.000000Z"),
            ("newer", 1, "session_start", "2026-12-01T10:05:00.000000Z"),
            ("newer", 2, "cell", "2026-12-01T10:05:01.000000Z"),
            ("older", 2, "metrics", "2026-12-01T10:05:10.000000Z"),
        ]:
            store.append(
                {"session_id": session, "seq": seq, "event_type": kind, "event_time": when}
            )
    last = lines(env.gclog("export", "--last").stdout)
    assert [r["session_id"] for r in last] == ["newer", "newer"]


def test_export_to_a_file(env: Env) -> None:
    fill(env, {"s-1": 4})
    out = env.root / "records.ndjson"
    result = env.gclog("export", "--last", "-o", str(out))
    assert result.returncode == 0 and result.stdout == ""
    assert len(lines(out.read_text())) == 4


def test_export_errors(env: Env) -> None:
    empty = env.gclog("export", "--last")
    assert empty.returncode == 2 and "no sessions recorded yet" in one_line_error(empty.stderr)
    fill(env, {"aaaa-1": 1, "aaab-2": 1})
    ambiguous = env.gclog("export", "--session", "aaa")
    assert ambiguous.returncode == 2 and "matches 2 sessions" in one_line_error(ambiguous.stderr)
    unknown = env.gclog("export", "--session", "zzz")
    assert unknown.returncode == 2 and "no session matches" in one_line_error(unknown.stderr)
    both = env.gclog("export", "--session", "aaaa", "--last")
    assert both.returncode == 2 and "not both" in one_line_error(both.stderr)
    nowhere = env.gclog("export", "-o", str(env.root / "no" / "such" / "dir.ndjson"))
    assert nowhere.returncode == 2 and "cannot write" in one_line_error(nowhere.stderr)


def test_export_into_a_closed_pipe_is_quiet(env: Env) -> None:
    fill(env, {"s": 20_000})
    proc = subprocess.run(
        f"{sys.executable} -m gclog export | head -n 1",
        shell=True,
        env=env.vars,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 1
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr
