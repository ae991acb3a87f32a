"""What gclog keeps on disk.

store.py  the SQLite store: every record (its parts: base.py, queue.py for the shipper's
          claims and set-aside records, cap.py for disk use and eviction)
live.py   the live sessions (one small file each) and one lock per observed kernel
spill.py  records the store refused to the end of a session, until it takes them back
doctor.py `gclog doctor`: set a damaged store aside, keeping what can be read
"""
