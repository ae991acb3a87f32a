"""Privacy: what gclog keeps of people's code and outputs, and what it never keeps.

scrubber.py     the engine: rules → findings (spans) → text with ``<redacted:KIND>``
windows.py      one pass for every rule's keywords; each rule reads only the text near them
build.py        how a rule is written: the factory, shared pieces, cheap vetoes
formats.py      token formats (gitleaks' list and more), cut short and wrapped tokens
named.py        secrets found by a name, a header, a command line or a file's layout
encoded.py      base64 that decodes to a credential
personal.py     personal data: e-mail, paths, IPv4/IPv6, phones, cards, internal hosts
rules.py        the rule sets of each level, put together
excerpt.py      cutting text to a cap without ever cutting through a secret
filter.py       the record filter every record passes before it is stored
environment.py  environment facts from an allow-list, identifiers as keyed hashes
optout.py       GCLOG_DISABLED / DO_NOT_TRACK
disclosure.py   the notice shown on first use
describe.py     ``gclog privacy``: exactly what is collected at a level
"""
