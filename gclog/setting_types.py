"""The values that settings take, and their parsers (text from a flag, a variable or a file).

Settings (config.py) are the foundation every stage reads, so the types of their values live down
here with them: the stages that use a value import it from this module, never the other way round.
A parser returns the value or raises ``ValueError`` with a reason that fits on one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# -- env_facts: the environment variables a session_start may record ---------------------------------

DEFAULT_ENV_FACTS = (  # what the seed read on Paperspace
    "PAPERSPACE_NOTEBOOK_REPO_ID",
    "hash:PAPERSPACE_NOTEBOOK_ID",
    "hash:PAPERSPACE_CLUSTER_ID",
    "REPO_FRAMEWORK",
    "TIER_TYPE",
)
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
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
    """Names separated by commas or spaces, ``hash:NAME`` to record a keyed hash of the value.

    Names that look like credentials are refused outright: the environment is where tokens live.
    """
    facts = []
    for entry in (e for e in re.split(r"[,\s]+", text.strip()) if e):
        hashed = entry.startswith("hash:")
        name = entry.removeprefix("hash:")
        if not _VARIABLE.fullmatch(name):
            raise ValueError(f"{entry!r} is not an environment variable name")
        words = set(re.split(r"[_\W]+", name.upper()))
        if words & _CREDENTIAL_WORDS:
            raise ValueError(f"{name} looks like a credential; gclog never records those")
        facts.append(EnvFact(name, hashed))
    return EnvFacts(facts)


# -- frameworks: distributions whose versions a session_start records --------------------------------

DEFAULT_FRAMEWORKS = (  # the seed's list, and jax
    "torch",
    "tensorflow",
    "jax",
    "transformers",
    "poptorch",
    "poptorch-geometric",
    "optimum-graphcore",
)
_DISTRIBUTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class Names(tuple[str, ...]):
    """The setting's value; ``str()`` gives it back as the setting is written."""

    def __str__(self) -> str:
        return ",".join(self)


def parse_frameworks(text: str) -> Names:
    """Distribution names, separated by commas or spaces."""
    names = Names(n for n in re.split(r"[,\s]+", text.strip()) if n)
    for name in names:
        if not _DISTRIBUTION.fullmatch(name):
            raise ValueError(f"{name!r} is not a distribution name")
    return names


# -- metrics: which metric sources to sample ----------------------------------------------------------

# The metric sources, in the order records list them; gclog.samplers.SAMPLERS has one class each.
METRIC_SOURCES = ("system", "process", "ipu", "nvidia")


def parse_metric_sources(text: str) -> str:
    """``all``, ``none`` (or ``off``), or a comma-separated list of metric sources."""
    value = text.strip().lower()
    if value in ("all", "on", "true", "1", "yes"):
        return "all"
    if value in ("none", "off", "false", "0", "no", ""):
        return "none"
    wanted = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in METRIC_SOURCES]
    if unknown:
        raise ValueError(
            f"unknown metric source {unknown[0]!r}; choose all, none or some of "
            + ", ".join(METRIC_SOURCES)
        )
    return ",".join(name for name in METRIC_SOURCES if name in wanted)


def chosen_metric_sources(setting: str) -> list[str]:
    """The sources a parsed ``metrics`` setting turns on."""
    if setting == "all":
        return list(METRIC_SOURCES)
    if setting == "none":
        return []
    return setting.split(",")


# -- where Firehose is: a region name, an endpoint URL ---------------------------------------------

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def parse_region(text: str) -> str | None:
    """An AWS region name such as ``us-east-1``; empty: boto3's default."""
    value = text.strip()
    if value and not _REGION.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS region name (such as us-east-1)")
    return value or None


def parse_endpoint_url(text: str) -> str | None:
    """An http(s) URL with a host (and a valid port, if any); empty: the region's endpoint."""
    from urllib.parse import urlsplit

    value = text.strip()
    if not value:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host name")
    del port
    return value
