"""Personal data (privacy levels ``redacted`` and ``metadata``): e-mail, user names in paths, IP
addresses (v4 and v6), phone numbers, payment cards, internal host names.

Each comes with what it must not take: a four-part version (``nvidia-cudnn-cu12 8.9.2.26``) is not
an IPv4 address, ``git@github.com:org/repo.git`` and ``q@k.transpose(-2, -1)`` are not e-mail, a
slice ``a[1::2]`` is not IPv6, a long id is not a card unless its digits pass Luhn's check.
"""

from __future__ import annotations

import ipaddress
import re

from gclog.privacy.build import rule
from gclog.privacy.runs import sequence_starts
from gclog.privacy.scrubber import Rule

# -- e-mail --------------------------------------------------------------------------------------------

# Generic top-level domains seen in addresses; any two-letter one is a country's.
_TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "name",
        "pro",
        "aero",
        "coop",
        "museum",
        "mobi",
        "jobs",
        "travel",
        "io",
        "ai",
        "dev",
        "app",
        "cloud",
        "tech",
        "online",
        "site",
        "xyz",
        "email",
        "mail",
        "company",
        "group",
        "team",
        "systems",
        "solutions",
        "agency",
        "digital",
        "global",
        "life",
        "live",
        "media",
        "network",
        "news",
        "shop",
        "store",
        "studio",
        "today",
        "world",
        "zone",
        "science",
        "academy",
        "school",
        "university",
        "health",
        "science",
        "inc",
        "ltd",
        "llc",
        "foundation",
        "institute",
        "works",
    ]
)
_CODE_OWNERS = ("self.", "cls.", "np.", "torch.", "tf.", "jnp.", "jax.", "nn.", "F.")


def _email(match: re.Match[str], secret: str) -> bool:
    domain = secret.partition("@")[2]
    tld = domain.rsplit(".", 1)[-1]
    if not (len(tld) == 2 or tld.lower() in _TLDS) or not (tld.islower() or tld.isupper()):
        return False  # q@k.transpose, x@w.mT: matrix products
    if domain.startswith(_CODE_OWNERS):
        return False  # h@self.fc
    after = match.string[match.end() : match.end() + 2]
    # not a method call, nor git@github.com:org/repo.git (an scp-style remote)
    return after[:1] not in ("(", "[") and not (
        after[:1] == ":" and after[1:2] not in ("", " ", "\n")
    )


# -- IPv4 -------------------------------------------------------------------------------------------

# The first word of a line that makes what follows an address, not a package's version.
_NETWORK_WORDS = frozenset(
    [
        "ip",
        "ipv4",
        "host",
        "hostname",
        "addr",
        "address",
        "inet",
        "server",
        "ping",
        "connect",
        "connecting",
        "from",
        "to",
        "via",
        "nameserver",
        "gateway",
        "route",
        "peer",
        "client",
        "listen",
        "listening",
        "bind",
        "proxy",
        "ssh",
        "curl",
        "nc",
        "dig",
    ]
)
_VERSION_MARK = re.compile(r"(?:==|>=|<=|~=|!=|[-_v]|version:?\s{0,4}|\()$", re.IGNORECASE)
# A line's first word, then blanks: what stands before the version in a `pip list` line.
_PACKAGE_COLUMN = re.compile(r"\s*([A-Za-z][\w.\-\[\],]{0,80})\s+")


def _ip_address(match: re.Match[str], secret: str) -> bool:
    """Four numbers up to 255 that start a word and are not a version (1.2.3.4.5, v1.2.3.4,
    torch==1.2.3.4, or the second column of a ``pip list`` / ``conda list`` line)."""
    text = match.string
    start = match.end() - len(secret)
    line_start = text.rfind("\n", 0, start) + 1
    head = text[line_start:start]
    column = _PACKAGE_COLUMN.fullmatch(head)  # first: most such numbers in notebooks are these
    if column is not None and column.group(1).lower().rstrip(":=") not in _NETWORK_WORDS:
        return False  # `pkg  8.9.2.26` is a version, `ping  10.0.0.7` an address
    before = text[max(0, start - 2) : start]
    if before and (before[-1].isalnum() or before[-1] in "._") and before[:1] != "\\":
        return False
    octets = [int(part) for part in secret.split(".")]
    if not all(o <= 255 for o in octets) or octets[0] in (0, 127, 255):
        return False
    return not _VERSION_MARK.search(head[-12:])


# -- IPv6 -------------------------------------------------------------------------------------------


def _ipv6(match: re.Match[str], secret: str) -> bool:
    address = secret.split("%", 1)[0]
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return False
    if parsed.is_loopback or parsed.is_unspecified:
        return False
    groups = [g for g in address.split(":") if g]
    # `a[1::2]`, `x[10::20]` are slices: an address has a full group or many of them
    return len(groups) >= 2 and (address.count(":") >= 4 or any(len(g) == 4 for g in groups))


# -- payment cards --------------------------------------------------------------------------------


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|3(?:0[0-5]|[68])")


# Two groups of four digits, joined or not, after a character a card can follow (what the
# pattern's lookbehind refuses is marked "w" or "-"; a blank stands for any other character, a
# joint too: the pattern decides). A float's decimals, a hash's digits, a year are not tried.
_DIGITS_AFTER_A_BREAK = sequence_starts(
    {"d": "0-9", "-": "-", "w": "A-Za-z_.+"}, [" dddddddd", " dddd dddd", " dddd-dddd"], lead=1
)


def _card_starts(text: str) -> list[int]:
    return [start for start in _DIGITS_AFTER_A_BREAK(text) if text[start] in "23456"]


def _card(match: re.Match[str], secret: str) -> bool:
    digits = re.sub(r"[ -]", "", secret)
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits):
        return False
    if secret == digits and len(digits) not in (15, 16):
        return False  # ungrouped: only the usual lengths, to spare ids and timestamps
    return _luhn(digits)


# -- phone numbers ----------------------------------------------------------------------------------


_DROP_DIGITS = str.maketrans("", "", "0123456789")  # the phone patterns match ASCII digits only


def _phone(match: re.Match[str], secret: str) -> bool:
    digits = len(secret) - len(secret.translate(_DROP_DIGITS))
    after = match.string[match.end() : match.end() + 1]
    return 8 <= digits <= 15 and after not in (".", "e", "E")


_WORDISH = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_INTERNAL_TLDS = r"internal|local|lan|corp|intranet|home\.arpa|localdomain|intra"

_LOCAL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-"
# What may not stand right before an address (URLs, a longer token); sets, built once.
_NOT_BEFORE_EMAIL = frozenset((*_LOCAL, ":", "/"))
_NOT_BEFORE_IPV6 = frozenset((*_WORDISH, ":", "."))


def _widened_start(match: re.Match[str], secret: str) -> str:
    """The character before a widened match ("" at the start of the text)."""
    start = match.end() - len(secret)
    return match.string[start - 1 : start]


def _a_person(match: re.Match[str], secret: str) -> bool:
    """A user name in a home directory, not a shared one every machine has."""
    return secret.lower() not in ("shared", "public", "default")


PERSONAL_RULES: tuple[Rule, ...] = (
    rule(
        "email",
        # From the '@', reaching back over the local part. Not after ':' or '/':
        # user:password@host and https://user@host are URLs, not e-mail.
        r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
        ["@"],
        widen=_LOCAL,
        back=64,
        min_back=1,
        check=lambda m, s: _widened_start(m, s) not in _NOT_BEFORE_EMAIL and _email(m, s),
    ),
    rule(
        "user",
        r"/(?:home|users)/(?!<redacted:)(?P<secret>[^/\\\s\"':]{1,64})",
        ["/home/", "/users/"],
        fold=True,
        groups=("secret",),
        check=_a_person,
    ),
    rule(
        "user",
        r":(?<=[a-z]:)\\{1,2}users\\{1,2}(?!<redacted:)(?P<secret>[^/\\\s\"':]{1,64})",
        ["\\users\\"],
        fold=True,
        groups=("secret",),
        check=_a_person,
    ),
    rule(
        "ip_address",
        # From the first dot, reaching back over the first number.
        r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![\w.])",
        ["."],
        widen="0123456789",
        back=3,
        min_back=1,
        check=_ip_address,
    ),
    rule(
        "ip_address",
        # From a ':', reaching back over the first group's hex digits.
        # The groups possessive: giving one back can only end the match before a ':' or a hex digit,
        # which the lookahead refuses (on "1:2:3:…" that backtracking cost ~1 s a megabyte).
        r":(?:[0-9a-f]{0,4}+:){1,7}+[0-9a-f]{0,4}(?:\.[0-9]{1,3}){0,3}(?:%[a-z0-9]{1,16})?(?![\w:.])",
        [":"],
        fold=True,
        widen="0123456789abcdef",
        back=4,
        check=lambda m, s: _widened_start(m, s) not in _NOT_BEFORE_IPV6 and _ipv6(m, s),
    ),
    rule(
        "card_number",
        r"[2-6](?<![\w.+-][2-6])[0-9]{3}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{1,7}(?![\w.])",
        [],
        check=_card,
        starts=_card_starts,
    ),
    rule(
        "phone",
        # +44 20 7946 0958, +1 (415) 555-2671, (415) 555-2671
        r"(?:\+(?<![\w+]\+)[1-9][0-9]{0,2}[ .-]?(?:\(?[0-9]{1,4}\)?[ .-]?){1,4}[0-9]{2,4}"
        r"|\((?<![\w(]\()[0-9]{3}\)[ ]?[0-9]{3}[ .-][0-9]{4})(?![\w.:/-])",
        [],
        check=_phone,
        starts=sequence_starts({"d": "0-9", "+": r"\+", "(": r"\(", ")": r"\)"}, ["+d", "(ddd)"]),
    ),
    rule(
        "phone",
        # 415-555-2671: from its first dash, three digits back
        r"-(?<=(?<![\w.:/-])[0-9]{3}-)[0-9]{3}-[0-9]{4}(?![\w.:/-])",
        ["-"],
        back=3,
        check=_phone,
    ),
    rule(
        "host",
        # a host name in a private domain: ip-10-0-0-7.ec2.internal, gpu-07.cluster.local
        rf"\.(?:{_INTERNAL_TLDS})(?![\w.-])",
        [".internal", ".local", ".lan", ".corp", ".intranet", ".home.arpa", ".intra"],
        fold=True,
        widen="abcdefghijklmnopqrstuvwxyz0123456789.-",
        back=253,
        min_back=1,
        check=lambda m, s: s[0].isalnum() and ".." not in s and _widened_start(m, s) != ".",
    ),
)
