"""Sink settings and credentials: flags, GCLOG_* and the config file; the seed's credentials file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from gclog.config import Paths, load_settings
from gclog.entry.options import sink_options
from gclog.errors import GclogError
from gclog.ship.credentials import (
    CredentialError,
    decode_seed_file,
    encode_seed_file,
    resolve,
)

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_the_seed_format_round_trips_and_drops_the_padding(tmp_path: Path) -> None:
    path = tmp_path / ".config"
    path.write_text(encode_seed_file(KEY_ID, SECRET, padding="Q"))
    assert decode_seed_file(path) == (KEY_ID, SECRET)
    # What the seed's files look like: base64 of the key with a character at index 2.
    import base64

    first = base64.b64decode(path.read_text().splitlines()[0]).decode()
    assert first == KEY_ID[:2] + "Q" + KEY_ID[2:]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("", "two base64 lines, found 0"),
        ("QUtJQQ==\n", "two base64 lines, found 1"),
        (f"{SECRET}!\nQUtJQQ==\n", "line 1 is not base64"),
        ("QUtJQXh4eHg=\nQUI=\n", "line 2 is too short"),
        (b"\xff\xfe\x00binary", "cannot be read"),
    ],
)
def test_a_bad_credentials_file_names_the_problem_not_the_content(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "keys"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(CredentialError, match=message) as info:
        decode_seed_file(path)
    assert str(path) in str(info.value)
    assert SECRET not in str(info.value) and "QUtJQQ" not in str(info.value)


def test_where_the_credentials_come_from(tmp_path: Path) -> None:
    explicit = tmp_path / "explicit"
    explicit.write_text(encode_seed_file("AKEXPLICIT", "secret-one"))
    dataset = tmp_path / "gcl"
    dataset.mkdir()
    (dataset / ".config").write_text(encode_seed_file("AKDATASET", "secret-two"))
    env = {"GCLOGGER_CONFIG": str(dataset)}

    first = resolve(str(explicit), "someprofile", env)
    assert first.access_key_id == "AKEXPLICIT" and first.profile is None
    assert resolve(None, "someprofile", env).profile == "someprofile"
    seed = resolve(None, None, env)
    assert seed.access_key_id == "AKDATASET" and "GCLOGGER_CONFIG" in seed.source
    assert resolve(None, None, {"GCLOGGER_CONFIG": str(tmp_path / "empty")}).access_key_id is None
    assert "default chain" in resolve(None, None, {}).source
    # the keys never show in a repr (logs, tracebacks)
    assert "secret-one" not in repr(first) and "AKEXPLICIT" not in repr(first)


def test_an_unknown_profile_is_a_credential_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(CredentialError, match="profile 'nobody' not found"):
        resolve(None, "nobody", {}).session("us-east-1")


def test_sink_settings_from_flags_environment_and_config_file(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path)
    (tmp_path / "config.toml").write_text(
        'sink = "firehose"\nstream = "from-file"\nregion = "eu-west-1"\npack_kib = 64\n'
    )
    defaults = load_settings({}, env={}, paths=Paths(tmp_path / "x", tmp_path / "x"))
    assert (defaults.sink, defaults.stream, defaults.pack_kib) == ("local", None, 256)
    assert (defaults.flush_timeout, defaults.store_max_mb) == (5.0, 256)
    from_file = load_settings({}, env={}, paths=paths)
    assert (from_file.sink, from_file.stream, from_file.region) == (
        "firehose",
        "from-file",
        "eu-west-1",
    )
    assert from_file.pack_kib == 64
    from_env = load_settings(
        {}, env={"GCLOG_STREAM": "from-env", "GCLOG_ENDPOINT_URL": "http://h:1"}, paths=paths
    )
    assert from_env.stream == "from-env" and from_env.endpoint_url == "http://h:1"
    from_flag = load_settings(
        {"stream": "from-flag", "sink": None}, env={"GCLOG_STREAM": "e"}, paths=paths
    )
    assert from_flag.stream == "from-flag" and from_flag.sink == "firehose"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GCLOG_SINK", "kafka", "expected one of local, firehose"),
        ("GCLOG_PACK_KIB", "2000", "from 0 to 1000"),
        ("GCLOG_STORE_MAX_MB", "-1", "from 0 to"),
        ("GCLOG_FLUSH_TIMEOUT", "0", "at least 0.1"),
    ],
)
def test_bad_sink_settings_name_their_origin(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(GclogError, match=message) as info:
        load_settings({}, env={name: value}, paths=Paths(tmp_path, tmp_path))
    assert name in str(info.value)


def test_sink_options_is_one_reusable_decorator() -> None:
    seen: dict[str, Any] = {}

    @click.command()
    @click.option("--other")
    @sink_options
    def command(other: str | None, sink_flags: dict[str, Any]) -> None:
        seen.update(sink_flags, other=other)

    result = CliRunner().invoke(
        command,
        ["--sink", "firehose", "--stream", "s", "--endpoint-url", "http://e", "--other", "o"],
    )
    assert result.exit_code == 0, result.output
    assert seen == {
        "sink": "firehose",
        "stream": "s",
        "region": None,
        "endpoint_url": "http://e",
        "profile": None,
        "credentials_file": None,
        "other": "o",
    }
    help_text = CliRunner().invoke(command, ["--help"]).output
    for option in ("--sink", "--stream", "--region", "--endpoint-url", "--profile"):
        assert option in help_text
    assert "--credentials-file" in help_text
