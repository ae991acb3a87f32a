"""What ``gclog analyze`` reads: the local store, NDJSON exports, Firehose's objects, or S3.

Everything becomes a list of local files DuckDB reads itself (``read_json``: newline-delimited or
concatenated JSON, gzip or not). DuckDB's own sqlite and httpfs extensions download themselves on
first use, which fails offline, so neither is used: the store is written out through ``sqlite3``
(its records are JSON text already: no parsing), and S3 objects are fetched with boto3.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gclog.errors import GclogError
from gclog.store.store import Store

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Files:
    """The files to read, by (layout, compression), and what they came from (for the summary).

    Layout is ``newline_delimited`` (gclog's own: a torn line is skipped) or ``auto`` (objects
    concatenated without newlines, as other producers send them to Firehose).
    """

    groups: dict[tuple[str, str], list[Path]] = field(default_factory=dict)
    described: list[str] = field(default_factory=list)
    scratch: Path | None = None  # where DuckDB may spill

    def add(self, path: Path) -> None:
        try:
            with open(path, "rb") as handle:
                gzipped = handle.read(2) == GZIP_MAGIC
            with gzip.open(path) if gzipped else open(path, "rb") as opened:
                first = opened.readline(1 << 20)
        except (OSError, EOFError) as exc:
            raise GclogError(
                f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})"
            ) from None
        if not first.strip():  # an empty object has no records
            return
        layout = "newline_delimited" if _one_object(first) else "auto"
        self.groups.setdefault((layout, "gzip" if gzipped else "none"), []).append(path)


def _one_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


@contextlib.contextmanager
def gather(sources: Sequence[str], store: Path, endpoint_url: str | None = None) -> Iterator[Files]:
    """The files behind ``sources`` (none: the local store); temporary ones go afterwards."""
    with tempfile.TemporaryDirectory(prefix="gclog-analyze-") as scratch:
        files = Files(scratch=Path(scratch) / "spill")
        for n, source in enumerate(sources or ["store"]):
            where = Path(scratch) / str(n)
            if source == "store":
                _from_store(store, where, files)
            elif source.startswith("s3://"):
                _from_s3(source, where, endpoint_url, files)
            else:
                _from_path(Path(source), files)
        yield files


def _from_store(store: Path, where: Path, files: Files) -> None:
    if not store.is_file():
        raise GclogError(f"no store at {store}: nothing recorded here yet (or give SOURCE files)")
    out = where.with_suffix(".ndjson")
    count = 0
    with Store(store) as opened, open(out, "w", encoding="utf-8") as handle:
        for body in opened.bodies():
            handle.write(body)
            handle.write("\n")
            count += 1
    files.add(out)
    files.described.append(f"the store {store} ({count} records)")


def _from_path(path: Path, files: Files) -> None:
    if path.is_dir():  # Firehose's layout: YYYY/MM/DD/HH/objects, or any tree of exports
        found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        for item in found:
            files.add(item)
        files.described.append(f"{path} ({len(found)} files)")
    elif path.is_file():
        files.add(path)
        files.described.append(str(path))
    else:
        raise GclogError(f"{path}: no such file or directory")


def _from_s3(url: str, where: Path, endpoint_url: str | None, files: Files) -> None:
    import boto3
    import botocore.exceptions

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise GclogError(f"{url}: give s3://BUCKET/PREFIX")
    client = boto3.client("s3", endpoint_url=endpoint_url)
    count = 0
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                target = where / f"{count:08d}"
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, item["Key"], str(target))
                files.add(target)
                count += 1
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise GclogError(f"{url}: {exc}") from None
    files.described.append(f"{url} ({count} objects)")
