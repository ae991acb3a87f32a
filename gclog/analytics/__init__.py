"""The seed's analytics fields that need more than the observer sees in one message.

compile_time.py   compile time parsed from a cell's outputs (a registry of parsers)
frameworks.py     framework versions of the *kernel's* Python, without sending it code
saved_cells.py    whether the code executed differs from the notebook as saved
"""
