"""Privacy: what gclog keeps of people's code and outputs, and what it never keeps.

scrubber.py     the engine: rules → findings (spans) → text with ``<redacted:KIND>``
rules.py        the rule sets: secrets, personal data, binary blobs; the set for each level
excerpt.py      cutting text to a cap without ever cutting through a secret
filter.py       the record filter every record passes before it is stored
environment.py  environment facts from an allow-list, identifiers as keyed hashes
optout.py       GCLOG_DISABLED / DO_NOT_TRACK
disclosure.py   the notice shown on first use
describe.py     ``gclog privacy``: exactly what is collected at a level
"""
