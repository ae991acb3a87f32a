"""The anonymous install identity: a random install id and a secret key for keyed hashes.

Both are made on first use and kept in ``identity.json`` (owner-only permissions) in the config
directory. The key never leaves the machine; identifiers such as notebook paths are recorded only as
HMAC-SHA256 under it, so they cannot be reversed or matched against a public salt.

Identifiers meant to join across a fleet of installs (a notebook's path, a platform's notebook id)
use :meth:`Identity.joinable_hash`: under the operator's *fleet key* when one is set (setting
``fleet_key``; every install of the fleet then hashes alike), else under the install's own key.
The threat model is in docs/DESIGN.md ("Identities").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from gclog.errors import GclogError


@dataclass(frozen=True)
class Identity:
    install_id: str
    key: bytes
    fleet_key: bytes | None = None  # shared by the installs of one fleet; never written to disk

    def keyed_hash(self, value: str) -> str:
        """Under this install's key: the same value hashes differently on every install."""
        return _hmac(self.key, value)

    def joinable_hash(self, value: str) -> str:
        """Under the fleet key when there is one, so the installs of a fleet can be joined."""
        return _hmac(self.fleet_key or self.key, value)

    def with_fleet_key(self, fleet_key: str | None) -> Identity:
        return replace(self, fleet_key=fleet_key.encode("utf-8") if fleet_key else None)

    @classmethod
    def load_or_create(cls, path: Path) -> Identity:
        try:
            return cls._read(path)
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"install_id": str(uuid.uuid4()), "key": secrets.token_hex(32)}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails if another process won the race: then its identity is the one to use.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return cls._read(path)

    @classmethod
    def _read(cls, path: Path) -> Identity:
        try:
            data = json.loads(path.read_text())
            return cls(install_id=str(data["install_id"]), key=bytes.fromhex(data["key"]))
        except (ValueError, KeyError, TypeError):
            raise GclogError(
                f"identity file {path} is damaged; delete it to make a new one"
            ) from None


def _hmac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
