"""``gclog schema``: JSON Schema and an Athena table, generated from :mod:`gclog.records`.

The TypedDicts in records.py are the only definition of the records; this module reads them
(types, ``Annotated`` descriptions, ``NotRequired``) so the published schema cannot drift from
what the code writes.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin, is_typeddict

from gclog.records import RECORD_TYPES, SCHEMA, fields_of, unwrap

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def json_type(hint: Any) -> dict[str, Any]:
    tp, doc = unwrap(hint)
    schema: dict[str, Any]
    if tp in _SCALARS:
        schema = {"type": _SCALARS[tp]}
    elif tp is type(None) or tp is None:
        schema = {"type": "null"}
    elif tp is Any:
        schema = {}
    elif get_origin(tp) is Literal:
        schema = {"enum": list(get_args(tp))}
    elif _is_union(tp):
        options = [json_type(arg) for arg in get_args(tp)]
        simple = [o.get("type") for o in options]
        if all(isinstance(t, str) for t in simple) and all(len(o) == 1 for o in options):
            schema = {"type": simple}
        else:
            schema = {"anyOf": options}
    elif get_origin(tp) is list:
        (item,) = get_args(tp) or (Any,)
        schema = {"type": "array", "items": json_type(item)}
    elif get_origin(tp) is dict:
        _, value = get_args(tp) or (str, Any)
        schema = {"type": "object", "additionalProperties": json_type(value)}
    elif is_typeddict(tp):
        schema = object_schema(tp)
    else:
        raise TypeError(f"no JSON Schema for {tp!r}")
    if doc:
        schema["description"] = doc
    return schema


def object_schema(td: Any) -> dict[str, Any]:
    fields = fields_of(td)
    properties = {}
    for name, (tp, doc, _) in fields.items():
        properties[name] = json_type(tp)
        if doc:
            properties[name]["description"] = doc
    required = [name for name, (_, _, needed) in fields.items() if needed]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if td.__doc__ and not td.__doc__.startswith(td.__name__ + "("):
        schema["description"] = " ".join(td.__doc__.split())
    return schema


def record_schemas() -> dict[str, Any]:
    """One JSON Schema document with a branch per event_type."""
    branches = []
    for event_type, td in RECORD_TYPES.items():
        branch = object_schema(td)
        branch["properties"]["event_type"] = {"const": event_type}
        branch["title"] = event_type
        branches.append(branch)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://gclog.invalid/schema/{SCHEMA}",
        "title": f"gclog records ({SCHEMA}), one JSON object per line",
        "oneOf": branches,
    }


# -- Athena ----------------------------------------------------------------------------------------


def hive_type(hint: Any) -> str:
    tp, _ = unwrap(hint)
    if _is_union(tp):
        options = [a for a in get_args(tp) if a is not type(None)]
        kinds = {hive_type(a) for a in options}
        if len(kinds) == 1:
            return kinds.pop()
        if kinds <= {"bigint", "double"}:
            return "double"
        return "string"
    if tp is str or get_origin(tp) is Literal:
        return "string"
    if tp is bool:
        return "boolean"
    if tp is int:
        return "bigint"
    if tp is float:
        return "double"
    if tp is Any:
        return "string"
    if get_origin(tp) is list:
        (item,) = get_args(tp)
        return f"array<{hive_type(item)}>"
    if get_origin(tp) is dict:
        _, value = get_args(tp)
        return f"map<string,{hive_type(value)}>"
    if is_typeddict(tp):
        fields = ",".join(f"`{name}`:{hive_type(t)}" for name, (t, _, _) in fields_of(tp).items())
        return f"struct<{fields}>"
    raise TypeError(f"no Hive type for {tp!r}")


def athena_columns() -> dict[str, str]:
    """Every top-level field of every record type, with one Hive type each."""
    columns: dict[str, str] = {}
    for td in RECORD_TYPES.values():
        for name, (tp, _, _) in fields_of(td).items():
            kind = hive_type(tp)
            if columns.setdefault(name, kind) != kind:
                raise TypeError(
                    f"field {name!r} has two types across records: {columns[name]}, {kind}"
                )
    return columns


def athena_ddl(table: str = "gclog_events", location: str = "s3://YOUR-BUCKET/gclog/") -> str:
    """The table over Firehose's S3 output, partitioned by its UTC hour prefix, and its views.

    Partition projection (no crawler, no MSCK REPAIR) maps ``dt`` to Firehose's default prefix
    ``YYYY/MM/DD/HH/``: a query that filters on ``dt`` scans those hours only (Athena bills
    by bytes scanned). ``<table>_unique`` keeps one record per event_id; ``gclog analyze --sql
    athena`` queries it.
    """
    from gclog.read.analyze.athena import unique_view

    columns = ",\n".join(f"  `{name}` {kind}" for name, kind in athena_columns().items())
    base = location if location.endswith("/") else location + "/"
    return (
        f"-- gclog records ({SCHEMA}) as Firehose writes them to S3: NDJSON, one event per line,\n"
        "-- under Firehose's default prefix YYYY/MM/DD/HH/ (UTC), one partition per hour.\n"
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {table} (\n{columns}\n)\n"
        "PARTITIONED BY (`dt` string)\n"
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\n"
        "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')\n"
        f"LOCATION '{base}'\n"
        "TBLPROPERTIES (\n"
        "  'projection.enabled' = 'true',\n"
        "  'projection.dt.type' = 'date',\n"
        "  'projection.dt.format' = 'yyyy/MM/dd/HH',\n"
        "  'projection.dt.range' = '2024/01/01/00,NOW',\n"
        "  'projection.dt.interval' = '1',\n"
        "  'projection.dt.interval.unit' = 'HOURS',\n"
        f"  'storage.location.template' = '{base}${{dt}}/'\n"
        ");\n\n"
        "-- Delivery is at-least-once: this view keeps one record per event_id.\n"
        f"{unique_view(table)};\n"
    )
