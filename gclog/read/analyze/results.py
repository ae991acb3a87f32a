"""Run the queries (sql.py) on DuckDB over the gathered files and shape the answers.

The shape (``--json``) is documented in the README ("For the people who publish notebooks"):
``{"notebooks": [{"notebook", "name", "sessions", "users", "cells": [...], "ends": [...], …}]}``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from gclog.errors import GclogError
from gclog.read.analyze.columns import COLUMNS
from gclog.read.analyze.sources import Files
from gclog.read.analyze.sql import MACROS, UNIQUE, query

DEFAULT_MIN_USERS = 5
# DuckDB spills to disk beyond this (into the sources' scratch directory): a million records stay
# under 1 GB of peak memory (~830 MiB, BENCHMARKS.md), where DuckDB's default (80% of RAM)
# took 1.3 GB.
MEMORY_LIMIT = "768MB"


def connect(files: Files, threads: int | None = None) -> Any:
    """A DuckDB database holding ``events``: the records of ``files``, one per event_id."""
    import duckdb

    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")  # every query orders its own rows
    if files.scratch is not None:
        con.execute(f"SET temp_directory = '{files.scratch}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for macro in MACROS:
        con.execute(macro)
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items()) + "}"
    reads = [
        f"SELECT * FROM read_json({[str(p) for p in paths]!r}, format = '{layout}', "
        f"compression = '{compression}', columns = {columns}"
        + (", ignore_errors = true)" if layout == "newline_delimited" else ")")
        for (layout, compression), paths in sorted(files.groups.items())
    ]
    empty = "SELECT " + ", ".join(f"NULL::{kind} AS {name}" for name, kind in COLUMNS.items())
    try:
        # Read first, then de-duplicate: a window over a read still under way took twice as long.
        con.execute(f"CREATE TEMP TABLE raw AS {' UNION ALL '.join(reads) or empty + ' LIMIT 0'}")
        con.execute(f"CREATE TEMP TABLE events AS {UNIQUE}")
        con.execute("DROP TABLE raw")
    except duckdb.Error as exc:
        raise GclogError(f"cannot read the records: {str(exc).splitlines()[0]}") from None
    return con


def rows(con: Any, name: str, min_users: int) -> list[dict[str, Any]]:
    cursor = con.execute(query(name, min_users))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _num(value: Any, digits: int = 6) -> Any:
    return round(float(value), digits) if value is not None else None


def _bytes(value: Any) -> int | None:
    return round(float(value)) if value is not None else None


def analyze(con: Any, min_users: int = DEFAULT_MIN_USERS) -> dict[str, Any]:
    """Every answer, grouped per notebook; groups of fewer than ``min_users`` users left out."""
    by_notebook: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for name in ("cells", "errors", "ends", "environment"):
        for row in rows(con, name, min_users):
            by_notebook[row["notebook"]][name].append(row)
    notebooks = []
    for nb in rows(con, "notebooks", min_users):
        parts = by_notebook[nb["notebook"]]
        errors: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in parts["errors"]:
            errors[e["cell"]].append(
                {"ename": e["ename"], "signature": e["signature"], "sessions": e["sessions"]}
            )
        notebooks.append(
            {
                "notebook": nb["notebook"],
                "name": nb["name"],
                "sessions": nb["sessions"],
                "users": nb["users"],
                "added_executions": nb["added_executions"] or 0,
                "rss_peak_bytes": {
                    "p50": _bytes(nb["rss_peak_p50"]),
                    "p95": _bytes(nb["rss_peak_p95"]),
                },
                "cells": [
                    {
                        "cell": c["cell"],
                        "index": c["cell_index"],
                        "reached": c["reached"],
                        "reached_share": _num(c["reached_share"]),
                        "users": c["users"],
                        "executions": c["executions"],
                        "reruns": c["reruns"],
                        "failed_sessions": c["failed_sessions"],
                        "failure_share": _num(c["failure_share"]),
                        "errors": errors.get(c["cell"], []),
                        "duration_s": {
                            "p50": _num(c["duration_p50"]),
                            "p90": _num(c["duration_p90"]),
                        },
                        "edited_share": _num(c["edited_share"]),
                        "wait_before_s": {"p50": _num(c["wait_p50"])},
                    }
                    for c in parts["cells"]
                ],
                "ends": [
                    {
                        "cell": e["cell"],
                        "index": e["cell_index"],
                        "reason": e["reason"],
                        "sessions": e["sessions"],
                    }
                    for e in parts["ends"]
                ],
                "failures_by_environment": [
                    {
                        "cell": f["cell"],
                        "index": f["cell_index"],
                        "facet": f["facet"],
                        "value": f["facet_value"],
                        "sessions": f["sessions"],
                        "failed_sessions": f["failed_sessions"],
                    }
                    for f in parts["environment"]
                ],
            }
        )
    return {"min_users": min_users, "notebooks": notebooks}
