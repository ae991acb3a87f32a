"""Reading what was recorded: for people and for analysts.

status.py   gclog status: live sessions, the store's backlog, kernels nobody observes
export.py   gclog export: stored records as NDJSON
schema.py   gclog schema: JSON Schema and Athena DDL from the record types
report/     gclog report: one session as a terminal summary or an HTML timeline
"""
