"""The SQL of sql.py for Athena (Trino), transpiled by sqlglot: ``gclog analyze --sql athena``.

The queries read ``events``; on Athena that is the de-duplicating view ``gclog schema --athena``
creates (``<table>_unique``). Two rewrites on the tree, where the engines differ: the exact
``quantile_cont`` becomes ``approx_percentile`` (Athena has no exact percentile), and DuckDB's
``'g'`` flag of ``regexp_replace`` goes (Trino replaces every match anyway).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from gclog.read.analyze.sql import QUERIES, UNIQUE, query


def _for_trino(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.PercentileCont):
        return exp.ApproxQuantile(this=node.this, quantile=node.expression)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "quantile_cont":
        column, fraction = node.expressions
        return exp.ApproxQuantile(this=column, quantile=fraction)
    if isinstance(node, exp.RegexpReplace) and node.args.get("modifiers") is not None:
        node.set("modifiers", None)
        node.set("single_replace", None)
    return node


def to_trino(sql: str, events: str) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = tree.transform(_for_trino)
    for table in tree.find_all(exp.Table):
        if table.name in ("events", "raw"):
            table.set("this", exp.to_identifier(events))
    return tree.sql(dialect="trino", pretty=True)


def unique_view(table: str) -> str:
    """The view that keeps one record per event_id (Firehose delivers at least once)."""
    body = to_trino(UNIQUE.replace("FROM raw", f"FROM {table}"), table)
    return f"CREATE OR REPLACE VIEW {table}_unique AS\n{body}"


def queries(table: str, min_users: int) -> dict[str, str]:
    return {name: to_trino(query(name, min_users), f"{table}_unique") for name in QUERIES}


def script(table: str, min_users: int) -> str:
    parts = [
        f"-- gclog analyze for Athena: over the view {table}_unique (gclog schema --athena).",
        f"-- Groups of fewer than {min_users} users are left out (--min-users).",
    ]
    for name, sql in queries(table, min_users).items():
        parts.append(f"\n-- {name}\n{sql};")
    return "\n".join(parts) + "\n"
