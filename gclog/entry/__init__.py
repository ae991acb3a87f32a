"""Entry points: what people call. Each turns a command into calls on the stages below.

cli.py        the command line: parses arguments, calls one module per command
options.py    the option groups several commands share (metrics, sink)
lean.py       optional modules kept out of gclog's own processes (jsonschema's format checkers)
run.py        gclog run: start a kernel, send the cells, write the executed notebook
attach.py     gclog attach: observe a kernel someone else drives
sidecar.py    gclog attach as a background process, and how it tells its parent it is ready
extension.py  %load_ext gclog: start a sidecar for this kernel (standard library only)
stop.py       gclog stop: end a live session
views.py      what run and attach show as they go: a bar or panel, or a line per cell
"""
