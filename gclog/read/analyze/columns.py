"""The record fields ``gclog analyze`` reads, with their DuckDB types.

Only these are read (DuckDB skips the rest of each JSON object), so a million records load in
seconds whatever else they carry, and a record without one of them reads it as NULL. The names are
the records' own (gclog/records.py), the same as the Athena table's columns (gclog schema --athena),
so one SQL runs on both.
"""

from __future__ import annotations

COLUMNS: dict[str, str] = {
    "event_id": "VARCHAR",
    "event_type": "VARCHAR",
    "session_id": "VARCHAR",
    "seq": "BIGINT",
    "user_id": "VARCHAR",
    "notebook_id": "VARCHAR",
    "notebook": "STRUCT(name VARCHAR, code_cells BIGINT, visit BIGINT)",
    "facets": "STRUCT(kernel VARCHAR, accelerator VARCHAR, frameworks VARCHAR)",
    "cell_key": "VARCHAR",
    "cell_index": "BIGINT",
    "cell_match": "VARCHAR",
    "status": "VARCHAR",
    "duration_s": "DOUBLE",
    "times": "STRUCT(started_at VARCHAR, ended_at VARCHAR)",
    "error": "STRUCT(ename VARCHAR, evalue VARCHAR)",
    "resources": "STRUCT(rss_peak_bytes BIGINT)",
    "reason": "VARCHAR",
}
