"""Enrichment: the fields a record carries beyond what the observer saw in the messages.

fields.py        what a session_start and a cell record get from here (the one entry point)
compile_time.py  compile time parsed from a cell's outputs (a list of parsers)
frameworks.py    framework versions of the *kernel's* Python, without sending it code
saved_cells.py   whether the code executed differs from the notebook as saved
"""
