"""``gclog report``: view.py gathers a session's records; terminal.py and html.py show them."""
