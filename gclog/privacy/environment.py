"""Environment facts: only allow-listed variables, and identifiers only as keyed hashes.

The environment is where tokens live, so gclog never reads it whole: the ``env_facts`` setting names
each variable it may record (see gclog/setting_types.py), ``hash:NAME`` for one that identifies
something (a notebook, a cluster), recorded as HMAC-SHA256 under the install's secret key.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from gclog.identity import Identity
from gclog.setting_types import EnvFact

HASH_PREFIX = "hmac-sha256:"
VALUE_CAP = 256
_NOT_IDENTIFYING = frozenset(("localhost", "localhost.localdomain"))


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
        if fact.hashed:  # a platform's id: joinable across a fleet when it has a fleet key
            variables[fact.name] = HASH_PREFIX + identity.joinable_hash(value)
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
