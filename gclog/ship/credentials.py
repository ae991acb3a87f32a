"""Where the AWS credentials come from, as a boto3 session. Secrets never leave this module's values.

In order: ``credentials_file`` (the seed's format), ``profile``, the seed's Paperspace dataset
(``$GCLOGGER_CONFIG/.config``), then boto3's default chain (environment variables, shared files,
container and instance roles). The seed's format is two lines, each the base64 of a key with one
junk character inserted at index 2: line 1 the access key id, line 2 the secret access key.

Errors name the file and the line, never the content; nothing here logs or stores a key.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED_DIR_VARIABLE = "GCLOGGER_CONFIG"
SEED_FILE_NAME = ".config"
PADDING_INDEX = 2  # the seed inserts one character here in each decoded line


class CredentialError(Exception):
    """The credentials cannot be found or read; the message is safe to show (no secrets)."""


@dataclass(frozen=True)
class Credentials:
    """Where the credentials come from (``source``, safe to show) and how to build a session."""

    source: str
    profile: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)

    def session(self, region: str | None) -> Any:
        """A boto3 session. Raises CredentialError for an unknown profile."""
        import boto3
        import botocore.exceptions

        try:
            return boto3.session.Session(
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                profile_name=self.profile,
                region_name=region,
            )
        except botocore.exceptions.ProfileNotFound:
            raise CredentialError(f"AWS profile {self.profile!r} not found") from None


def decode_seed_file(path: Path) -> tuple[str, str]:
    """(access key id, secret access key) from a file in the seed's format."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="ascii").splitlines()]
    except FileNotFoundError:
        raise CredentialError(f"credentials file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not text"
        raise CredentialError(f"credentials file {path} cannot be read ({reason})") from None
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise CredentialError(
            f"credentials file {path} should hold two base64 lines, found {len(lines)}"
        )
    keys = []
    for number, line in enumerate(lines[:2], start=1):
        try:
            decoded = base64.b64decode(line, validate=True).decode("ascii").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError(f"credentials file {path}: line {number} is not base64") from None
        if len(decoded) <= PADDING_INDEX + 1:
            raise CredentialError(f"credentials file {path}: line {number} is too short")
        keys.append(decoded[:PADDING_INDEX] + decoded[PADDING_INDEX + 1 :])
    return keys[0], keys[1]


def encode_seed_file(access_key_id: str, secret_access_key: str, padding: str = "x") -> str:
    """The seed's format for a pair of keys (for tests and for making such a file)."""
    return "".join(
        base64.b64encode((key[:PADDING_INDEX] + padding + key[PADDING_INDEX:]).encode()).decode()
        + "\n"
        for key in (access_key_id, secret_access_key)
    )


def resolve(
    credentials_file: str | None, profile: str | None, env: Mapping[str, str] | None = None
) -> Credentials:
    """Pick the credentials' source (see the module's docstring); reads a file if one is named."""
    env = os.environ if env is None else env
    if credentials_file:
        path = Path(credentials_file).expanduser()
        key_id, secret = decode_seed_file(path)
        return Credentials(f"credentials file {path}", None, key_id, secret)
    if profile:
        return Credentials(f"AWS profile {profile!r}", profile=profile)
    seed_dir = env.get(SEED_DIR_VARIABLE)
    if seed_dir:
        path = Path(seed_dir).expanduser() / SEED_FILE_NAME
        if path.is_file():
            key_id, secret = decode_seed_file(path)
            return Credentials(
                f"credentials file {path} (from {SEED_DIR_VARIABLE})", None, key_id, secret
            )
    return Credentials("boto3's default chain (AWS_* variables, ~/.aws, instance role)")
