"""The questions ``gclog analyze`` answers, written once as SQL.

Written in DuckDB's dialect over a relation ``events`` (the records, one per ``event_id``), and
transpiled by sqlglot to Trino for Athena (athena.py): so the queries a laptop runs and those
printed for Athena are the same text. Only what both engines run is used: GROUP BY and window
functions (no MATCH_RECOGNIZE, no funnel functions), ``FILTER``, and Trino's names for timestamps
(``from_iso8601_timestamp``, ``to_unixtime``), which DuckDB gets as macros (MACROS). The exact
``quantile_cont`` becomes Athena's ``approx_percentile``.

``{k}`` is the smallest group shown (``--min-users``): every query drops groups of fewer users
(k-anonymity), so nothing printed describes fewer than k people.
"""

from __future__ import annotations

MACROS = (
    # gclog's times are always UTC with a Z (records.iso): a TIMESTAMP cast reads them as UTC,
    # twice as fast as a TIMESTAMPTZ cast.
    "CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMP)",
    "CREATE OR REPLACE MACRO to_unixtime(t) AS epoch(t)",
)

# One record per event_id (delivery is at least once); `raw` is the records as read.
UNIQUE = """
SELECT * FROM (
  SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY seq) AS copy_n
  FROM raw WHERE event_id IS NOT NULL
) WHERE copy_n = 1
"""

# The error's class and its message with what varies between people (numbers, addresses,
# runs of white space) made alike, so the same failure groups across users.
SIGNATURE = """
CASE WHEN evalue IS NULL OR evalue = '' THEN coalesce(ename, 'error')
ELSE coalesce(ename, 'error') || ': ' || substr(
  regexp_replace(regexp_replace(regexp_replace(
    evalue, '0x[0-9a-fA-F]+', '<hex>', 'g'), '[0-9]+', 'N', 'g'), '[ \\t\\r\\n]+', ' ', 'g'),
  1, 120)
END
"""

_SESSIONS = """
sessions AS (
  SELECT notebook_id, session_id, max(user_id) AS user_id
  FROM events WHERE notebook_id IS NOT NULL
  GROUP BY notebook_id, session_id
)"""

# Executions of the notebook's own cells (added cells have no index); skipped ones are not runs.
_RUNS = """
runs AS (
  SELECT notebook_id, session_id, user_id, seq, cell_key, cell_index, cell_match, status,
         duration_s, times.started_at AS started_at, times.ended_at AS ended_at,
         error.ename AS ename, error.evalue AS evalue
  FROM events
  WHERE event_type = 'cell' AND notebook_id IS NOT NULL AND cell_key IS NOT NULL
    AND cell_index IS NOT NULL AND status <> 'aborted'
)"""

NOTEBOOKS = f"""
WITH {_SESSIONS},
starts AS (
  SELECT session_id, notebook.name AS name FROM events WHERE event_type = 'session_start'
),
added AS (
  SELECT notebook_id, count(*) AS added_executions FROM events
  WHERE event_type = 'cell' AND cell_match = 'added' GROUP BY notebook_id
),
peaks AS (
  SELECT notebook_id, session_id, max(resources.rss_peak_bytes) AS rss_peak
  FROM events WHERE event_type = 'cell' AND notebook_id IS NOT NULL
  GROUP BY notebook_id, session_id
),
memory AS (
  SELECT notebook_id,
         quantile_cont(rss_peak, 0.5) AS rss_peak_p50,
         quantile_cont(rss_peak, 0.95) AS rss_peak_p95
  FROM peaks WHERE rss_peak IS NOT NULL GROUP BY notebook_id
)
SELECT s.notebook_id AS notebook, max(st.name) AS name, count(*) AS sessions,
       count(DISTINCT s.user_id) AS users, max(a.added_executions) AS added_executions,
       max(m.rss_peak_p50) AS rss_peak_p50, max(m.rss_peak_p95) AS rss_peak_p95
FROM sessions s
LEFT JOIN starts st ON st.session_id = s.session_id
LEFT JOIN added a ON a.notebook_id = s.notebook_id
LEFT JOIN memory m ON m.notebook_id = s.notebook_id
GROUP BY s.notebook_id
HAVING count(DISTINCT s.user_id) >= {{k}}
ORDER BY sessions DESC, notebook
"""

CELLS = f"""
WITH {_SESSIONS},
{_RUNS},
totals AS (SELECT notebook_id, count(*) AS sessions FROM sessions GROUP BY notebook_id),
per_session AS (
  SELECT notebook_id, cell_key, session_id, max(user_id) AS user_id,
         min(cell_index) AS cell_index, count(*) AS executions,
         max(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS failed,
         count(*) FILTER (WHERE cell_match = 'edited') AS edited
  FROM runs GROUP BY notebook_id, cell_key, session_id
),
durations AS (
  SELECT notebook_id, cell_key,
         quantile_cont(duration_s, 0.5) AS duration_p50,
         quantile_cont(duration_s, 0.9) AS duration_p90
  FROM runs GROUP BY notebook_id, cell_key
),
gaps AS (
  SELECT notebook_id, cell_key, to_unixtime(from_iso8601_timestamp(started_at))
         - to_unixtime(from_iso8601_timestamp(
             lag(ended_at) OVER (PARTITION BY session_id ORDER BY seq))) AS wait_s
  FROM runs
),
waits AS (
  SELECT notebook_id, cell_key, quantile_cont(wait_s, 0.5) AS wait_p50
  FROM gaps WHERE wait_s IS NOT NULL GROUP BY notebook_id, cell_key
)
SELECT p.notebook_id AS notebook, p.cell_key AS cell, min(p.cell_index) AS cell_index,
       count(*) AS reached,
       CAST(count(*) AS DOUBLE) / max(t.sessions) AS reached_share,
       count(DISTINCT p.user_id) AS users,
       sum(p.executions) AS executions,
       sum(p.executions) - count(*) AS reruns,
       sum(p.failed) AS failed_sessions,
       CAST(sum(p.failed) AS DOUBLE) / count(*) AS failure_share,
       max(d.duration_p50) AS duration_p50,
       max(d.duration_p90) AS duration_p90,
       CAST(sum(p.edited) AS DOUBLE) / sum(p.executions) AS edited_share,
       max(w.wait_p50) AS wait_p50
FROM per_session p
JOIN totals t ON t.notebook_id = p.notebook_id
JOIN durations d ON d.notebook_id = p.notebook_id AND d.cell_key = p.cell_key
LEFT JOIN waits w ON w.notebook_id = p.notebook_id AND w.cell_key = p.cell_key
GROUP BY p.notebook_id, p.cell_key
HAVING count(DISTINCT p.user_id) >= {{k}}
ORDER BY notebook, cell_index, cell
"""

ERRORS = f"""
WITH {_RUNS},
failures AS (
  SELECT notebook_id, cell_key, session_id, user_id, ename, {SIGNATURE} AS signature
  FROM runs WHERE status = 'error'
),
grouped AS (
  SELECT notebook_id, cell_key, ename, signature,
         count(DISTINCT session_id) AS sessions, count(DISTINCT user_id) AS users
  FROM failures
  GROUP BY notebook_id, cell_key, ename, signature
  HAVING count(DISTINCT user_id) >= {{k}}
),
ranked AS (
  SELECT *, row_number() OVER (
    PARTITION BY notebook_id, cell_key ORDER BY sessions DESC, signature) AS rank_n
  FROM grouped
)
SELECT notebook_id AS notebook, cell_key AS cell, ename, signature, sessions, users
FROM ranked WHERE rank_n <= 3
ORDER BY notebook, cell, sessions DESC, signature
"""

# Where each session ended: the last cell it ran (its own or one the person added, not gclog's
# own %unload_ext) and why.
ENDS = f"""
WITH {_SESSIONS},
last_cells AS (
  SELECT session_id, cell_key, cell_index,
         row_number() OVER (PARTITION BY session_id ORDER BY seq DESC) AS last_n
  FROM events
  WHERE event_type = 'cell' AND status <> 'aborted' AND coalesce(cell_match, '') <> 'gclog'
),
end_reasons AS (
  SELECT session_id, max(reason) AS reason FROM events
  WHERE event_type = 'session_end' GROUP BY session_id
)
SELECT s.notebook_id AS notebook, l.cell_key AS cell, l.cell_index AS cell_index,
       coalesce(e.reason, 'open') AS reason,
       count(*) AS sessions, count(DISTINCT s.user_id) AS users
FROM sessions s
LEFT JOIN last_cells l ON l.session_id = s.session_id AND l.last_n = 1
LEFT JOIN end_reasons e ON e.session_id = s.session_id
GROUP BY s.notebook_id, l.cell_key, l.cell_index, coalesce(e.reason, 'open')
HAVING count(DISTINCT s.user_id) >= {{k}}
ORDER BY notebook, sessions DESC, cell_index, reason
"""

# Failing cells by environment: for each facet value, the sessions that ran the cell and failed.
ENVIRONMENT = f"""
WITH {_RUNS},
starts AS (
  SELECT session_id, facets.kernel AS kernel, facets.accelerator AS accelerator,
         facets.frameworks AS frameworks
  FROM events WHERE event_type = 'session_start'
),
failing AS (SELECT DISTINCT notebook_id, cell_key FROM runs WHERE status = 'error'),
joined AS (
  SELECT r.notebook_id, r.cell_key, r.cell_index, r.session_id, r.user_id, r.status,
         st.kernel, st.accelerator, st.frameworks
  FROM runs r
  JOIN failing f ON f.notebook_id = r.notebook_id AND f.cell_key = r.cell_key
  LEFT JOIN starts st ON st.session_id = r.session_id
),
facet_values AS (
  SELECT notebook_id, cell_key, cell_index, session_id, user_id, status,
         'kernel' AS facet, coalesce(kernel, 'unknown') AS facet_value FROM joined
  UNION ALL
  SELECT notebook_id, cell_key, cell_index, session_id, user_id, status,
         'accelerator' AS facet, coalesce(accelerator, 'unknown') AS facet_value FROM joined
  UNION ALL
  SELECT notebook_id, cell_key, cell_index, session_id, user_id, status,
         'frameworks' AS facet, coalesce(frameworks, 'unknown') AS facet_value FROM joined
)
SELECT notebook_id AS notebook, cell_key AS cell, min(cell_index) AS cell_index, facet,
       facet_value, count(DISTINCT session_id) AS sessions,
       count(DISTINCT session_id) FILTER (WHERE status = 'error') AS failed_sessions,
       count(DISTINCT user_id) AS users
FROM facet_values
GROUP BY notebook_id, cell_key, facet, facet_value
HAVING count(DISTINCT session_id) FILTER (WHERE status = 'error') > 0
   AND count(DISTINCT user_id) >= {{k}}
ORDER BY notebook, cell_index, facet, failed_sessions DESC, facet_value
"""

QUERIES: dict[str, str] = {
    "notebooks": NOTEBOOKS,
    "cells": CELLS,
    "errors": ERRORS,
    "ends": ENDS,
    "environment": ENVIRONMENT,
}


def query(name: str, min_users: int) -> str:
    return QUERIES[name].replace("{k}", str(int(min_users)))
