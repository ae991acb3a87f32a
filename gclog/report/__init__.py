"""``gclog report``: one session, summarised for people — in the terminal, or as an HTML timeline."""
