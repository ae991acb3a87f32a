"""``session_start.facets``: the environment in three words, for failures broken down by it.

Flat strings (no maps) so that one SQL groups by them on DuckDB and on Athena alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACCELERATORS = ("ipu", "nvidia")


def facets(
    kernel: Mapping[str, Any], metrics: Mapping[str, Any], frameworks: Mapping[str, Any]
) -> dict[str, str]:
    sources = metrics.get("sources") or {}
    on = [name for name in ACCELERATORS if (sources.get(name) or {}).get("on")]
    installed = sorted(f"{name} {version}" for name, version in frameworks.items() if version)
    language = " ".join(
        str(part) for part in (kernel.get("language"), kernel.get("language_version")) if part
    )
    return {
        "kernel": " / ".join(str(p) for p in (kernel.get("name"), language) if p) or "unknown",
        "accelerator": ", ".join(on) or "none",
        "frameworks": ", ".join(installed) or "none",
    }
