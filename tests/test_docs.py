"""The README keeps up with the code: every setting and every command is documented."""

from __future__ import annotations

import pytest
from helpers import REPO

from gclog.config import setting_fields
from gclog.entry.cli import cli

README = (REPO / "README.md").read_text()


@pytest.mark.parametrize("name", [f.name for f in setting_fields()])
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README, f"README says nothing of the setting {name!r}"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"gclog {command}" in README, f"README says nothing of `gclog {command}`"
