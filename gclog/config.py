"""Settings: flags, then ``GCLOG_*`` environment variables, then a TOML file, then defaults.

Every setting is declared once, as a field of :class:`Settings`; its environment variable is
``GCLOG_<NAME>`` and its config-file key is ``<name>``. ``GCLOG_HOME`` relocates all state.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gclog.errors import GclogError
from gclog.setting_types import (
    DEFAULT_ENV_FACTS,
    DEFAULT_FRAMEWORKS,
    EnvFact,
    parse_endpoint_url,
    parse_env_facts,
    parse_frameworks,
    parse_metric_sources,
    parse_region,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

PRIVACY_LEVELS = ("full", "redacted", "metadata")
SINKS = ("local", "firehose")


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _seconds(minimum: float, optional: bool = False) -> Callable[[str], Any]:
    """A finite number of seconds, at least ``minimum``; ``optional``: also none (or 0) for none.

    ``nan`` and ``inf`` are refused (``nan <= 0`` is false, and an infinite interval stops a
    thread), and so is anything under the minimum (an interval of 1e-9 s is a busy loop).
    """

    def parse(text: str) -> float | None:
        if optional and text.strip().lower() in ("", "none", "0"):
            return None
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number of seconds, got {text!r}") from None
        if not math.isfinite(value) or value < minimum:
            raise ValueError(
                f"expected a finite number of seconds, at least {minimum:g}, got {text!r}"
            )
        return value

    parse.minimum = minimum  # type: ignore[attr-defined]  # README's table of minimums
    return parse


def _optional_text(text: str) -> str | None:
    return text.strip() or None


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(
                f"expected a whole number from {low} to {high}, got {text!r}"
            ) from None
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {text!r}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
        return text

    return parse


def setting(default: Any, help: str, parse: Callable[[str], Any] = str) -> Any:
    return field(default=default, metadata={"help": help, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """The effective settings of one gclog invocation."""

    privacy: str = setting(
        "redacted",
        "What code and output text is kept: full, redacted (secrets scrubbed) or metadata (none).",
        _choice(*PRIVACY_LEVELS),
    )
    disabled: bool = setting(
        False, "Record nothing and send nothing (as does DO_NOT_TRACK=1).", _bool
    )
    env_facts: tuple[EnvFact, ...] = setting(
        parse_env_facts(",".join(DEFAULT_ENV_FACTS)),
        "Environment variables session_start may record; hash:NAME records a keyed hash.",
        parse_env_facts,
    )
    frameworks: tuple[str, ...] = setting(
        parse_frameworks(",".join(DEFAULT_FRAMEWORKS)),
        "Distributions whose versions in the kernel's environment session_start records.",
        parse_frameworks,
    )
    timeout: float | None = setting(
        None,
        "Per-cell timeout in seconds for `gclog run` (none by default).",
        _seconds(0.1, optional=True),
    )
    startup_timeout: float = setting(
        60.0, "Seconds to wait for a kernel to start and answer.", _seconds(1.0)
    )
    restart_grace: float = setting(
        10.0,
        "Seconds an attached observer waits for a dead kernel to be restarted before it ends "
        "(jupyter_server's restarter notices a crash within 3 s).",
        _seconds(0.1),
    )
    metrics: str = setting(
        "all",
        "Metric sources to sample: all, none, or some of system, process, ipu, nvidia (comma-separated).",
        parse_metric_sources,
    )
    metrics_interval: float = setting(
        2.0, "Seconds between two readings of each metric source.", _seconds(0.1)
    )
    metrics_busy_interval: float = setting(
        0.5,
        "Seconds between readings of the kernel's processes and accelerators while a cell runs.",
        _seconds(0.05),
    )
    metrics_window: float = setting(
        10.0,
        "Seconds of readings reduced into one metrics record (mean, max, last).",
        _seconds(0.2),
    )
    # -- where records go (README, "Shipping to Firehose") --
    sink: str = setting(
        "local", "local (records stay in the store) or firehose (also shipped)", _choice(*SINKS)
    )
    stream: str | None = setting(None, "Firehose delivery stream name.", _optional_text)
    region: str | None = setting(
        None,
        "AWS region of the stream [default: boto3's, e.g. AWS_DEFAULT_REGION].",
        parse_region,
    )
    endpoint_url: str | None = setting(
        None, "Firehose endpoint URL (a VPC endpoint, or a test server).", parse_endpoint_url
    )
    profile: str | None = setting(None, "AWS profile for the credentials.", _optional_text)
    credentials_file: str | None = setting(
        None, "Credentials in the seed's format (two base64 lines).", _optional_text
    )
    pack_kib: int = setting(
        256,
        "Pack events (one NDJSON line each) into Firehose records of up to this many KiB; 0: one event per record.",
        _int_between(0, 1000),
    )
    flush_timeout: float = setting(
        5.0, "Seconds a session waits at its end for its records to ship.", _seconds(0.1)
    )
    ship_interval: float = setting(
        2.0, "Seconds between the shipper's looks at the store.", _seconds(0.01)
    )
    store_max_mb: int = setting(
        256,
        "Cap on the store's records, MiB; when full, evict (see README); 0: no cap.",
        _int_between(0, 1_000_000),
    )
    # Where each setting given explicitly came from ("flag --privacy", "environment GCLOG_…").
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def origin_of(self, name: str) -> str:
        return self.origins.get(name, "default")

    def as_env(self) -> dict[str, str]:
        """The settings given explicitly, as GCLOG_* variables for a process gclog starts."""
        return {
            f"GCLOG_{name.upper()}": "" if (value := getattr(self, name)) is None else str(value)
            for name in self.origins
        }


def setting_fields() -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(Settings) if "parse" in f.metadata]


@dataclass(frozen=True)
class Paths:
    """Where gclog keeps its state. ``GCLOG_HOME`` puts everything under one directory."""

    state_dir: Path
    config_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        home = env.get("GCLOG_HOME")
        if home:
            root = Path(home).expanduser()
            if root.exists() and not root.is_dir():
                raise GclogError(f"GCLOG_HOME={home}: not a directory")
            return cls(state_dir=root, config_dir=root)
        import platformdirs

        return cls(
            state_dir=Path(platformdirs.user_state_dir("gclog")),
            config_dir=Path(platformdirs.user_config_dir("gclog")),
        )

    @property
    def store(self) -> Path:
        return self.state_dir / "store.sqlite3"

    @property
    def sessions(self) -> Path:
        return self.state_dir / "sessions"

    @property
    def identity(self) -> Path:
        return self.config_dir / "identity.json"

    def config_file(self, env: Mapping[str, str] | None = None) -> Path:
        env = os.environ if env is None else env
        explicit = env.get("GCLOG_CONFIG")
        return Path(explicit).expanduser() if explicit else self.config_dir / "config.toml"


def text_of(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except UnicodeDecodeError:
        raise GclogError(f"config file {path}: not UTF-8 text (TOML must be UTF-8)") from None
    except (OSError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise GclogError(f"config file {path}: {text_of(exc)}") from None
    known = {f.name for f in setting_fields()}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GclogError(f"config file {path}: unknown setting {unknown[0]!r}")
    return data


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    paths: Paths | None = None,
) -> Settings:
    """Merge the layers; a flag whose value is None counts as not given."""
    env = os.environ if env is None else env
    paths = paths or Paths.from_env(env)
    config_path = paths.config_file(env)
    file_values = _read_config_file(config_path)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for f in setting_fields():
        parse = f.metadata["parse"]
        env_name = f"GCLOG_{f.name.upper()}"
        if flags and flags.get(f.name) is not None:
            raw, origin = flags[f.name], f"flag --{f.name.replace('_', '-')}"
        elif env_name in env:
            raw, origin = env[env_name], f"environment {env_name}"
        elif f.name in file_values:
            raw, origin = file_values[f.name], f"config file {config_path}"
        else:
            continue
        if isinstance(raw, (list, tuple)):  # a TOML array: the same as a comma-separated string
            raw = ",".join(map(str, raw))
        try:
            values[f.name] = parse(raw) if isinstance(raw, str) else parse(str(raw))
        except ValueError as exc:
            raise GclogError(f"{origin}: {exc}") from None
        origins[f.name] = origin
    return Settings(**values, origins=origins)
