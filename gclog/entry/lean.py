"""Optional modules jsonschema (under nbformat) imports when they are installed, kept out of
gclog's own processes (``gclog`` and the sidecar; never a person's kernel).

jsonschema's ``_format`` imports one library per string format it can check ("iri", "duration",
"hostname", "color", …) and registers its checker. Those checks only run for a validator given a
FormatChecker, and nbformat never gives one (its schemas use no ``format`` keyword at all): the
modules cost gclog start-up time and memory for nothing. rfc3987_syntax builds Earley parsers at
import (2.3 s here); arrow (under isoduration), rfc3986_validator and the rest ~2.5 MB of memory.
A ``None`` in ``sys.modules`` makes their ``import`` raise ImportError, which jsonschema expects.
idna is left alone: requests imports it too.
"""

from __future__ import annotations

import sys

FORMAT_CHECKER_MODULES = (
    "rfc3987_syntax",  # "iri", "iri-reference"
    "rfc3987",  # "iri", "uri" (the older parser)
    "rfc3986_validator",  # "uri", "uri-reference"
    "rfc3339_validator",  # "date-time"
    "isoduration",  # "duration" (it imports arrow)
    "fqdn",  # "hostname"
    "webcolors",  # "color"
    "jsonpointer",  # "json-pointer"
    "uri_template",  # "uri-template"
)


def skip_format_checker_imports() -> None:
    """Keep jsonschema's format-checker libraries out (a module already imported stays)."""
    for name in FORMAT_CHECKER_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
