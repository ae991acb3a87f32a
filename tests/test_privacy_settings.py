"""Environment facts, opting out, the disclosure and ``gclog privacy``'s description."""

from __future__ import annotations

from pathlib import Path

import pytest

from gclog.config import Paths, load_settings
from gclog.errors import GclogError
from gclog.identity import Identity
from gclog.privacy.describe import describe
from gclog.privacy.disclosure import STOP_HINTS, announce, disclosure, show_disclosure_once
from gclog.privacy.environment import environment_facts
from gclog.privacy.optout import opt_out_line, opt_out_reason
from gclog.setting_types import EnvFact, parse_env_facts


def paths_in(tmp_path: Path) -> Paths:
    return Paths(state_dir=tmp_path / "state", config_dir=tmp_path / "config")


# -- environment facts --------------------------------------------------------------------------------


def test_only_allow_listed_variables_are_read_and_identifiers_are_keyed_hashes(
    tmp_path: Path,
) -> None:
    identity = Identity.load_or_create(tmp_path / "identity.json")
    facts = parse_env_facts("PAPERSPACE_NOTEBOOK_REPO_ID, hash:PAPERSPACE_NOTEBOOK_ID TIER_TYPE")
    environ = {
        "PAPERSPACE_NOTEBOOK_REPO_ID": "repo-123",
        "PAPERSPACE_NOTEBOOK_ID": "nb9x7k2q",
        "HF_TOKEN": "hf_secret",
        "HOME": "/home/alice",
    }
    got = environment_facts(facts, environ, identity, hostname="host-42ab")
    assert got.record == {
        "host_id": "hmac-sha256:" + identity.keyed_hash("host-42ab"),
        "variables": {
            "PAPERSPACE_NOTEBOOK_REPO_ID": "repo-123",
            "PAPERSPACE_NOTEBOOK_ID": "hmac-sha256:" + identity.keyed_hash("nb9x7k2q"),
        },
    }
    assert set(got.identifying_words) == {"host-42ab", "nb9x7k2q"}
    other = Identity.load_or_create(tmp_path / "other.json")
    assert other.keyed_hash("nb9x7k2q") != identity.keyed_hash("nb9x7k2q")  # no public salt


def test_the_default_allow_list_is_the_seeds_paperspace_variables() -> None:
    facts = load_settings({}, env={}).env_facts
    assert facts == (
        EnvFact("PAPERSPACE_NOTEBOOK_REPO_ID", False),
        EnvFact("PAPERSPACE_NOTEBOOK_ID", True),
        EnvFact("PAPERSPACE_CLUSTER_ID", True),
        EnvFact("REPO_FRAMEWORK", False),
        EnvFact("TIER_TYPE", False),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("HF_TOKEN", "looks like a credential"),
        ("hash:AWS_SECRET_ACCESS_KEY", "looks like a credential"),
        ("DB_PASSWORD", "looks like a credential"),
        ("1BAD", "not an environment variable name"),
    ],
)
def test_credential_variables_cannot_be_allow_listed(value: str, message: str) -> None:
    with pytest.raises(GclogError, match=message):
        load_settings({}, env={"GCLOG_ENV_FACTS": value})


def test_list_settings_read_back_from_their_text(tmp_path: Path) -> None:
    """A child process gets settings as GCLOG_* text: str() of each value must parse back."""
    given = {"GCLOG_ENV_FACTS": "TIER_TYPE hash:PAPERSPACE_CLUSTER_ID", "GCLOG_FRAMEWORKS": "jax"}
    settings = load_settings({}, env=given, paths=paths_in(tmp_path))
    again = load_settings(
        {},
        env={
            "GCLOG_ENV_FACTS": str(settings.env_facts),
            "GCLOG_FRAMEWORKS": str(settings.frameworks),
        },
        paths=paths_in(tmp_path),
    )
    assert (again.env_facts, again.frameworks) == (settings.env_facts, settings.frameworks)
    assert str(settings.env_facts) == "TIER_TYPE,hash:PAPERSPACE_CLUSTER_ID"


def test_lists_in_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'env_facts = ["TIER_TYPE", "hash:PAPERSPACE_CLUSTER_ID"]\nframeworks = ["torch"]\n'
    )
    settings = load_settings({}, env={}, paths=Paths(tmp_path, tmp_path))
    assert settings.env_facts == (
        EnvFact("TIER_TYPE", False),
        EnvFact("PAPERSPACE_CLUSTER_ID", True),
    )
    assert settings.frameworks == ("torch",)


# -- opting out -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, None),
        ({"GCLOG_DISABLED": "1"}, "GCLOG_DISABLED=1"),
        ({"GCLOG_DISABLED": "yes"}, "GCLOG_DISABLED=yes"),
        ({"GCLOG_DISABLED": "0"}, None),
        ({"DO_NOT_TRACK": "1"}, "DO_NOT_TRACK=1"),
        ({"DO_NOT_TRACK": "True"}, "DO_NOT_TRACK=True"),
        ({"DO_NOT_TRACK": "0"}, None),
        ({"DO_NOT_TRACK": ""}, None),
    ],
)
def test_opt_out_reasons(tmp_path: Path, env: dict[str, str], reason: str | None) -> None:
    settings = load_settings({}, env=env, paths=paths_in(tmp_path))
    assert opt_out_reason(settings, env) == reason


def test_opting_out_in_the_config_file_names_it(tmp_path: Path) -> None:
    paths = Paths(tmp_path, tmp_path)
    (tmp_path / "config.toml").write_text("disabled = true\n")
    settings = load_settings({}, env={}, paths=paths)
    reason = opt_out_reason(settings, {})
    assert reason == f"disabled = true in {tmp_path / 'config.toml'}"
    assert opt_out_line(reason).startswith("gclog: recording is off (disabled = true in ")


def test_a_nonsense_opt_out_value_is_an_error_not_a_guess(tmp_path: Path) -> None:
    with pytest.raises(GclogError, match="GCLOG_DISABLED"):
        load_settings({}, env={"GCLOG_DISABLED": "perhaps"}, paths=paths_in(tmp_path))


# -- the disclosure -----------------------------------------------------------------------------------


def test_the_disclosure_keeps_the_seeds_promise_in_its_own_words() -> None:
    text = disclosure("redacted", STOP_HINTS["extension"])
    for promise in ("progression through the notebook", "number of cells", "the code that runs",
                    "environment details", "Anonymised", "%unload_ext gclog"):  # fmt: skip
        assert promise in text
    assert "not the code or the outputs themselves" in disclosure("metadata", STOP_HINTS["run"])
    assert "e-mail" not in disclosure("full", STOP_HINTS["run"])
    assert all(len(line) <= 96 for line in text.splitlines())


def test_the_disclosure_shows_once_per_install(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    shown: list[str] = []
    assert show_disclosure_once(paths, "redacted", STOP_HINTS["run"], shown.append)
    assert not show_disclosure_once(paths, "redacted", STOP_HINTS["run"], shown.append)
    assert len(shown) == 1
    (paths.state_dir / "disclosure-shown").write_text("0\n")  # an older notice was seen
    assert show_disclosure_once(paths, "redacted", STOP_HINTS["run"], shown.append)


def test_announce_says_why_recording_is_off_or_shows_the_notice(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    said: list[str] = []
    off = load_settings({}, env={"GCLOG_DISABLED": "1"}, paths=paths)
    assert announce(off, paths, "attach", said.append, env={}) == "GCLOG_DISABLED=1"
    assert said == ["gclog: recording is off (GCLOG_DISABLED=1): nothing is recorded or sent"]
    assert not paths.state_dir.exists()
    on = load_settings({}, env={}, paths=paths)
    said.clear()
    assert announce(on, paths, "run", said.append, env={}) is None
    assert announce(on, paths, "run", said.append, env={}) is None
    assert len(said) == 1 and "GCLOG_DISABLED=1" in said[0]
    assert announce(on, paths, "extension", said.append, every_time=True, env={}) is None
    assert len(said) == 2 and "%unload_ext gclog" in said[1]


def test_an_unwritable_home_shows_it_again_rather_than_fail(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    paths.state_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.state_dir.write_text("a file where the state directory should be")
    shown: list[str] = []
    assert show_disclosure_once(paths, "full", STOP_HINTS["run"], shown.append)
    assert show_disclosure_once(paths, "full", STOP_HINTS["run"], shown.append)
    assert len(shown) == 2


# -- gclog privacy --------------------------------------------------------------------------------------


def test_the_description_follows_the_level(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    redacted = describe(load_settings({}, env={}, paths=paths), paths, env={})
    assert "level 'redacted'" in redacted and "recording: on" in redacted
    assert "personal data: email" in redacted
    assert "code " in redacted and "[scrubbed, at most 65,536 characters]" in redacted
    assert "hash:PAPERSPACE_NOTEBOOK_ID," in redacted and "poptorch-geometric" in redacted
    metadata = describe(load_settings({"privacy": "metadata"}, env={}, paths=paths), paths, env={})
    code_line = next(line for line in metadata.splitlines() if line.strip().startswith("code "))
    assert code_line.endswith("[not collected]")
    full = describe(load_settings({"privacy": "full"}, env={}, paths=paths), paths, env={})
    assert "personal data" not in full
    off = describe(load_settings({}, env={}, paths=paths), paths, env={"DO_NOT_TRACK": "1"})
    assert "recording: off (DO_NOT_TRACK=1)" in off


def test_the_description_lists_every_record_field(tmp_path: Path) -> None:
    from gclog.privacy.describe import record_fields
    from gclog.records import RECORD_TYPES

    paths = paths_in(tmp_path)
    text = describe(load_settings({}, env={}, paths=paths), paths, env={})
    for cls in RECORD_TYPES.values():
        for path, _ in record_fields(cls):
            assert f"    {path} " in text, path
