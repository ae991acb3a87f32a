"""Settings: flags, then ``GCLOG_*`` environment variables, then a TOML file, then defaults.

Every setting is declared once, as a field of :class:`Settings`; its environment variable is
``GCLOG_<NAME>`` and its config-file key is ``<name>``. ``GCLOG_HOME`` relocates all state.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gclog.analytics.frameworks import DEFAULT_FRAMEWORKS, parse_frameworks
from gclog.errors import GclogError
from gclog.privacy.environment import DEFAULT_ENV_FACTS, EnvFact, parse_env_facts

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

PRIVACY_LEVELS = ("full", "redacted", "metadata")


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"expected a positive number, got {text!r}")
    return value


def _optional_positive_float(text: str) -> float | None:
    return None if text.strip().lower() in ("", "none", "0") else _positive_float(text)


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
        _optional_positive_float,
    )
    startup_timeout: float = setting(
        60.0, "Seconds to wait for a kernel to start and answer.", _positive_float
    )
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")


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


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GclogError(f"config file {path}: {exc}") from None
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
    sources: dict[str, str] = {}
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
        sources[f.name] = origin
    return Settings(**values, sources=sources)
