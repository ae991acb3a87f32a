"""Environment facts: only allow-listed variables, and identifiers only as keyed hashes.

The environment is where tokens live, so gclog never reads it whole: the ``env_facts`` setting names
each variable it may record, ``hash:NAME`` for one that identifies something (a notebook, a
cluster), recorded as HMAC-SHA256 under the install's secret key. The defaults are the Paperspace
variables the seed read. Names that look like credentials are refused outright.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from gclog.identity import Identity

HASH_PREFIX = "hmac-sha256:"
VALUE_CAP = 256

DEFAULT_ENV_FACTS = (
    "PAPERSPACE_NOTEBOOK_REPO_ID",
    "hash:PAPERSPACE_NOTEBOOK_ID",
    "hash:PAPERSPACE_CLUSTER_ID",
    "REPO_FRAMEWORK",
    "TIER_TYPE",
)
_NOT_IDENTIFYING = frozenset(("localhost", "localhost.localdomain"))
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CREDENTIAL_WORDS = frozenset(
    ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PWD", "PASS", "KEY", "APIKEY", "CREDENTIAL",
     "CREDENTIALS", "AUTH", "COOKIE", "SESSION", "PRIVATE", "SIGNATURE")
)  # fmt: skip


@dataclass(frozen=True)
class EnvFact:
    name: str
    hashed: bool

    def __str__(self) -> str:
        return f"hash:{self.name}" if self.hashed else self.name


class EnvFacts(tuple[EnvFact, ...]):
    """The setting's value; ``str()`` gives it back as the setting is written."""

    def __str__(self) -> str:
        return ",".join(map(str, self))


def parse_env_facts(text: str) -> EnvFacts:
    """The ``env_facts`` setting: names separated by commas or spaces, ``hash:NAME`` to hash."""
    facts = []
    for entry in (e for e in re.split(r"[,\s]+", text.strip()) if e):
        hashed = entry.startswith("hash:")
        name = entry.removeprefix("hash:")
        if not _NAME.fullmatch(name):
            raise ValueError(f"{entry!r} is not an environment variable name")
        words = set(re.split(r"[_\W]+", name.upper()))
        if words & _CREDENTIAL_WORDS:
            raise ValueError(f"{name} looks like a credential; gclog never records those")
        facts.append(EnvFact(name, hashed))
    return EnvFacts(facts)


def keyed(identity: Identity, value: str) -> str:
    return HASH_PREFIX + identity.keyed_hash(value)


@dataclass(frozen=True)
class EnvironmentFacts:
    """The ``environment`` of a session_start, and the raw words it hides (for the scrubber)."""

    record: dict[str, object]
    identifying_words: tuple[str, ...]


def environment_facts(
    facts: tuple[EnvFact, ...],
    environ: Mapping[str, str],
    identity: Identity,
    hostname: str | None = None,
) -> EnvironmentFacts:
    hostname = socket.gethostname() if hostname is None else hostname
    variables: dict[str, str] = {}
    hidden: list[str] = [hostname] if hostname and hostname not in _NOT_IDENTIFYING else []
    for fact in facts:
        value = environ.get(fact.name)
        if value is None:
            continue
        if fact.hashed:
            variables[fact.name] = keyed(identity, value)
            hidden.append(value)
        else:
            variables[fact.name] = value[:VALUE_CAP]
    return EnvironmentFacts(
        record={
            "host_id": keyed(identity, hostname) if hostname else None,
            "variables": variables,
        },
        identifying_words=tuple(hidden),
    )
