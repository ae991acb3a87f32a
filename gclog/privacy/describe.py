"""``gclog privacy``: exactly what is collected at a privacy level, read off the code itself.

The field list comes from the record types in records.py and the treatment of each field from the
filter's own tables, so this page cannot drift from what gclog does.
"""

from __future__ import annotations

import textwrap
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from gclog.config import Paths, Settings
from gclog.privacy.filter import OTHER_TEXT_CAP, TEXT_FIELDS
from gclog.privacy.optout import opt_out_reason
from gclog.privacy.rules import BLOB_RULES, PERSONAL_RULES, SECRET_RULES
from gclog.records import RECORD_TYPES, Envelope, fields_of, unwrap

WIDTH = 100


def record_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, doc) of every leaf field of a record TypedDict, nested ones included."""
    for name, (hint, doc, _) in fields_of(cls).items():
        item = typing.get_args(hint)[0] if typing.get_origin(hint) is list else None
        if typing.is_typeddict(hint):
            yield from record_fields(hint, f"{prefix}{name}.")
        elif item is not None and typing.is_typeddict(unwrap(item)[0]):
            yield from record_fields(unwrap(item)[0], f"{prefix}{name}[].")
        else:
            yield f"{prefix}{name}", doc or _type_name(hint)


def _type_name(hint: Any) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    return getattr(hint, "__name__", str(hint))


def treatment(event: str, path: str, level: str) -> str:
    """What the filter does with a field at ``level``, in a few words."""
    full = f"{event}.{path}"
    text = TEXT_FIELDS.get(full)
    if text is not None:
        if level == "metadata":
            return "not collected"
        return f"scrubbed, at most {text.cap:,} characters"
    if full == "cell.error.ename":
        return "kept if a plain class name" if level == "metadata" else "scrubbed"
    if full == "cell.code_sha256":
        return "hash of the code as scrubbed at redacted" if level == "metadata" else ""
    return ""


def describe(settings: Settings, paths: Paths, env: Mapping[str, str] | None = None) -> str:
    level = settings.privacy
    off = opt_out_reason(settings, env)
    removed = ["secrets: " + ", ".join(dict.fromkeys(r.kind for r in SECRET_RULES))]
    if level != "full":
        kinds = [*dict.fromkeys(r.kind for r in PERSONAL_RULES), "identifier"]
        removed.append(
            "personal data: " + ", ".join(kinds) + " (identifier: this host's name and the raw"
            " values of hashed environment variables)"
        )
    removed += [
        "binary: " + ", ".join(r.kind for r in BLOB_RULES) + " (runs of 256+ characters),"
        " control characters; images and other binary outputs are kept as type, size and hash",
        f"other strings are cut to {OTHER_TEXT_CAP:,} characters; every cut is marked",
    ]
    header = [
        f"gclog privacy: what is collected at level {level!r} (from "
        f"{settings.origin_of('privacy')}; set with --privacy or GCLOG_PRIVACY)",
        f"recording: off ({off}): nothing is recorded or sent" if off else "recording: on",
        "",
        "Removed from every text before it is stored (each becomes <redacted:KIND>):",
        *(_wrap(item, "  ") for item in removed),
        "",
        _wrap(
            "Identifiers: the install is a random UUID; the notebook's path, the host name and"
            " hashed variables are HMAC-SHA256 under a random key kept in"
            f" {paths.identity} (never sent)."
        ),
        _wrap(
            "Environment variables read (no others; hash: means kept as a keyed hash): "
            + (", ".join(str(f) for f in settings.env_facts) or "none")
        ),
        _wrap(
            "Framework versions looked up in the kernel's environment: "
            + (", ".join(settings.frameworks) or "none")
        ),
        f"Records are stored in {paths.store}.",
        "",
        "Fields of each record:",
        "  every record:",
    ]
    lines = header
    envelope = dict(record_fields(Envelope))
    lines += _field_lines("record", envelope.items(), level)
    for event, cls in RECORD_TYPES.items():
        own = [(p, d) for p, d in record_fields(cls) if p not in envelope]
        lines.append(f"  {event}:")
        lines += _field_lines(event, own, level)
    return "\n".join(lines)


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ")


def _field_lines(event: str, fields: Any, level: str) -> list[str]:
    out = []
    for path, doc in fields:
        how = treatment(event, path, level)
        out.append(f"    {path:<30} {doc}" + (f"  [{how}]" if how else ""))
    return out
