"""Shipping end to end: `gclog run` and `gclog flush` processes, real kernels, moto behind a proxy."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import time
from collections import Counter

import boto3
import pytest
from firehose_helpers import MAX_RECORD, FirehoseWorld, set_moto_auth
from helpers import Env, one_line_error, write_notebook

from gclog.errors import ExitCode
from gclog.ship.credentials import encode_seed_file
from gclog.store.store import Store

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-gclog-cli"


def stored(env: Env) -> list[dict]:
    return env.records()


def undelivered(env: Env) -> int:
    with Store(env.store) as store:
        return store.counts()["undelivered"]


def warnings(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("gclog: warning:")]


def test_run_ships_every_record_through_an_outage_and_resumes_the_backlog(
    env: Env, firehose: FirehoseWorld
) -> None:
    nb = write_notebook(env.root / "a.ipynb", "print('hi')", "1 + 1")
    first = env.gclog("run", str(nb), **firehose.aws_env)  # local sink: nothing is shipped
    assert first.returncode == 0, first.stderr
    first_records = len(stored(env))  # session_start, 2 cells, metrics, session_end
    assert first_records >= 4
    assert firehose.proxy.calls == [] and undelivered(env) == first_records
    firehose.proxy.fail_next("drop", "503", "400")
    second = env.gclog("run", str(nb), *firehose.flags(), **firehose.aws_env)
    assert second.returncode == 0, second.stderr
    assert warnings(second.stderr) == []
    records = stored(env)
    assert len(records) >= 2 * 4 and len({r["session_id"] for r in records}) == 2
    assert undelivered(env) == 0
    arrived = Counter(e["event_id"] for e in firehose.moto.delivered())
    assert set(arrived) == {r["event_id"] for r in records}  # both sessions, all of them
    assert [c.fault for c in firehose.proxy.calls][:3] == ["drop", "503", "400"]
    # what arrived is what was stored, field for field
    shipped = {e["event_id"]: e for e in firehose.moto.delivered()}
    assert all(shipped[r["event_id"]] == r for r in records)


def test_kill_9_in_the_middle_of_uploads_then_flush_delivers_everything_stored(
    env: Env, firehose: FirehoseWorld
) -> None:
    cells = [f"import time; time.sleep(0.05); print({i})" for i in range(60)]
    nb = write_notebook(env.root / "long.ipynb", *cells)
    firehose.proxy.delay_s = 1.0  # every call takes a while: some are in flight at the kill
    env.vars.update(firehose.aws_env, GCLOG_SHIP_INTERVAL="0.05", GCLOG_PACK_KIB="0")
    proc = env.popen("run", str(nb), *firehose.flags())
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if len(firehose.proxy.calls) >= 3 and firehose.proxy.in_flight.is_set():
            break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail(f"no uploads in flight: {proc.communicate()[1][-2000:]}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    records = stored(env)
    assert 0 < undelivered(env) <= len(records)  # the kill left work behind
    assert len([r for r in records if r["event_type"] == "cell"]) < 60  # really cut short
    firehose.proxy.recover()
    flush = env.gclog("flush", *firehose.flags())
    assert flush.returncode == 0, flush.stderr
    assert "nothing left to ship" in flush.stderr
    assert undelivered(env) == 0
    arrived = Counter(e["event_id"] for e in firehose.moto.delivered())
    assert {r["event_id"] for r in records} <= set(arrived)  # every stored record arrived
    duplicates = sum(arrived.values()) - len(arrived)
    # only the records of the calls cut off by the kill can arrive twice
    assert duplicates <= max(len(c.records) for c in firehose.proxy.calls)


def test_a_5mb_output_ships_within_firehose_limits(env: Env, firehose: FirehoseWorld) -> None:
    nb = write_notebook(
        env.root / "big.ipynb",
        "print('y' * 5_000_000)",
        "from IPython.display import display\ndisplay({'text/plain': 'z' * 5_000_000}, raw=True)",
        "'w' * 5_000_000",
    )
    result = env.gclog("run", str(nb), *firehose.flags(), **firehose.aws_env)
    assert result.returncode == 0, result.stderr
    assert warnings(result.stderr) == []
    assert firehose.proxy.violations == []
    assert all(size <= MAX_RECORD for c in firehose.proxy.calls for size in c.records)
    records = stored(env)
    assert {e["event_id"] for e in firehose.moto.delivered()} == {r["event_id"] for r in records}
    assert undelivered(env) == 0


def _dead_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("failure", ["wrong stream", "unreachable endpoint", "bad credentials"])
def test_shipping_failures_are_one_line_and_keep_every_record(
    env: Env, firehose: FirehoseWorld, moto_endpoint: str, failure: str
) -> None:
    nb = write_notebook(env.root / "a.ipynb", "print('still runs')")
    flags = firehose.flags()
    env.vars.update(firehose.aws_env, GCLOG_FLUSH_TIMEOUT="1")
    if failure == "wrong stream":
        flags[flags.index("--stream") + 1] = "no-such-stream"
        reason = "'no-such-stream'"
    elif failure == "unreachable endpoint":
        flags = firehose.flags(endpoint=_dead_endpoint())
        reason = "cannot reach"
    else:
        keys = env.root / "keys"
        keys.write_text(encode_seed_file("AKIAGCLOGUNKNOWN0002", SECRET))
        flags += ["--credentials-file", str(keys)]
        reason = "rejected the credentials"
        set_moto_auth(moto_endpoint, enabled=True)
    try:
        run = env.gclog("run", str(nb), *flags)
        flush = env.gclog("flush", "--timeout", "1", *flags)
    finally:
        set_moto_auth(moto_endpoint, enabled=False)

    # The notebook ran and gclog exited by its usual code, saying once what happened.
    assert run.returncode == 0, run.stderr
    assert (env.root / "a.gclog.ipynb").exists()
    kept = len(stored(env))  # session_start, the cell, a metrics window, session_end
    (line,) = warnings(run.stderr)
    assert reason in line and f"{kept} records not shipped" in line and "gclog flush" in line
    assert undelivered(env) == kept
    # gclog flush: one line, exit 5, records still there.
    assert flush.returncode == ExitCode.UNDELIVERED
    assert reason in one_line_error(flush.stderr)
    assert undelivered(env) == kept
    # gclog status says what went wrong with the last upload, and what waits.
    shipping = json.loads(env.gclog("status", "--json").stdout)["store"]
    assert shipping["undelivered"] == kept and shipping["last_upload"]["ok"] is False
    assert reason in shipping["last_upload"]["error"]
    assert "failed" in env.gclog("status").stdout
    for text in (run.stdout, run.stderr, flush.stdout, flush.stderr):
        assert SECRET not in text
    assert SECRET.encode() not in env.store.read_bytes()
    # Once the cause is gone, everything arrives.
    fixed = env.gclog("flush", *firehose.flags())
    assert fixed.returncode == 0, fixed.stderr
    assert {e["event_id"] for e in firehose.moto.delivered()} == {
        r["event_id"] for r in stored(env)
    }


def _moto_user_keys(endpoint: str) -> tuple[str, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iam.create_user(UserName="gclog-shipper")
    iam.put_user_policy(
        UserName="gclog-shipper",
        PolicyName="put",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "firehose:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="gclog-shipper")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_the_seeds_credentials_file_under_gclogger_config_is_used(
    env: Env, firehose: FirehoseWorld, moto_endpoint: str
) -> None:
    """moto checks the keys for real here: only correctly decoded ones get through."""
    key_id, secret = _moto_user_keys(moto_endpoint)
    dataset = env.root / "datasets" / "gcl"
    dataset.mkdir(parents=True)
    with Store(env.store) as store:
        store.append(
            {"session_id": "s", "seq": 1, "event_type": "cell", "event_time": "t", "event_id": "e1"}
        )
    no_chain = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    env.vars.update(firehose.aws_env, **no_chain, GCLOGGER_CONFIG=str(dataset))
    set_moto_auth(moto_endpoint, enabled=True)
    try:
        # Keys written without the seed's padding character decode to wrong keys: refused.
        (dataset / ".config").write_text(
            "\n".join(base64.b64encode(k.encode()).decode() for k in (key_id, secret))
        )
        refused = env.gclog("flush", *firehose.flags())
        (dataset / ".config").write_text(encode_seed_file(key_id, secret, padding="#"))
        accepted = env.gclog("flush", *firehose.flags())
    finally:
        set_moto_auth(moto_endpoint, enabled=False)
    assert refused.returncode == ExitCode.UNDELIVERED
    assert "rejected the credentials" in one_line_error(refused.stderr)
    assert str(dataset / ".config") in refused.stderr  # it names where the keys came from
    assert accepted.returncode == 0, accepted.stderr
    assert [e["event_id"] for e in firehose.moto.delivered()] == ["e1"]
    for text in (refused.stderr, accepted.stderr):
        assert secret not in text and key_id not in text


def test_flush_reads_the_sink_settings_from_the_config_file(
    env: Env, firehose: FirehoseWorld
) -> None:
    with Store(env.store) as store:
        store.append(
            {"session_id": "s", "seq": 1, "event_type": "cell", "event_time": "t", "event_id": "c1"}
        )
    env.home.mkdir(parents=True, exist_ok=True)
    (env.home / "config.toml").write_text(
        f'stream = "{firehose.stream}"\nregion = "us-east-1"\nendpoint_url = "{firehose.proxy.url}"\n'
    )
    result = env.gclog("flush", **firehose.aws_env)
    assert result.returncode == 0, result.stderr
    assert "shipped 1 record in 1 call" in result.stderr
    assert [e["event_id"] for e in firehose.moto.delivered()] == ["c1"]
    again = env.gclog("flush", **firehose.aws_env)  # nothing left: still fine
    assert again.returncode == 0 and "shipped 0 records" in again.stderr


def test_flush_without_a_stream_is_a_usage_error(env: Env) -> None:
    result = env.gclog("flush")
    assert result.returncode == ExitCode.BAD_INPUT
    assert "needs a stream name" in one_line_error(result.stderr)


def test_run_with_firehose_but_no_stream_stops_before_running(env: Env) -> None:
    nb = write_notebook(env.root / "a.ipynb", "print(1)")
    result = env.gclog("run", str(nb), "--sink", "firehose")
    assert result.returncode == ExitCode.BAD_INPUT
    assert "needs a stream name" in one_line_error(result.stderr)
