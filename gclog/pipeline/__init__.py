"""The record pipeline: what an observation hands over becomes records in the store.

recorder.py  executions and kernel events → records; the services a session runs (metric
             samplers, the shipper, its entry among the live sessions)
session.py   the record envelope (ids, seq, times), the privacy filter, the commit to the store
"""
