"""What gclog keeps on disk.

store.py  the SQLite store: every record, and the shipper's durable queue
live.py   the live sessions (one small file each) and one lock per observed kernel
spill.py  records the store refused to the end of a session, until it takes them back
"""
