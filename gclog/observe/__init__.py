"""Observation: what happened in a kernel, from its iopub messages, the same for every entry point.

observer.py     iopub messages → executions (one per execute request) and restarts
outputs.py      a cell's outputs → the output summary of its record
observation.py  one observed session's lifecycle, for run and attach alike: lock the kernel,
                start the session, pump messages, tell deaths from restarts, end, unlock
signals.py      Ctrl-C, SIGTERM and SIGHUP as a flag the loops check, so no write is cut short
"""
