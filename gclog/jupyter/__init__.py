"""Talking to Jupyter: kernels, their connection files, their iopub channel, notebook files.

kernel.py        start, watch and stop a kernel gclog owns (gclog run)
connect.py       find a running kernel: connection file, id, prefix; alive or stale
subscription.py  a passive iopub subscriber: the one reader of a kernel's messages
notebook.py      reading notebooks safely; checkpointed, atomic saving of the executed one
"""
