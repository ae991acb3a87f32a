"""``gclog analyze``: what everyone who ran a notebook did, per notebook and per cell.

sources.py  the store, NDJSON exports, Firehose's S3 objects (a directory, or s3:// via boto3)
columns.py  the record fields read, with their types
sql.py      the questions, written once as SQL (DuckDB here, transpiled for Athena)
results.py  DuckDB over the sources, the answers shaped for --json
render.py   the answers as tables in the terminal
html.py     the answers as a self-contained page of pictures (--html)
athena.py   the same SQL for Athena (--sql athena) and the table's views
"""
