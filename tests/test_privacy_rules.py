"""The scrubber's keyword index and the personal-data rules: properties over the corpora.

The keyword index (gclog/privacy/windows.py) must find exactly what a scan of the whole text
finds; the personal-data rules must tell a card from a number, an address from a version.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import string
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secret_corpus import SecretMaker
from test_scrubber import CLEAN, PERSONAL, PLANTED, SCRUBBERS

from gclog.privacy.build import mixed
from gclog.privacy.rules import PERSONAL_RULES, SECRET_RULES, personal_scrubber
from gclog.privacy.scrubber import Scrubber

# -- the keyword index: reading windows finds exactly what reading everything finds ---------------

_LONG_PIECES = [p.text for p in PLANTED + PERSONAL] + [text for _, text in CLEAN]


def _without_index(scrubber: Scrubber) -> Scrubber:
    plain = Scrubber(scrubber.rules)
    plain._index = None  # the fallback: a keyword test per rule, each rule over the whole text
    return plain


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(min_value=0, max_value=len(_LONG_PIECES) - 1), min_size=8),
    glue=st.sampled_from(["\n", " ", "", "\n\n", "|", "\\n"]),
)
def test_windows_around_keywords_find_what_a_whole_scan_finds(picks: list[int], glue: str) -> None:
    text = glue.join(_LONG_PIECES[i] for i in picks)
    text = (text + glue) * (4096 // max(1, len(text)) + 1)  # over the size that uses windows
    for scrubber in SCRUBBERS.values():
        assert scrubber._index is not None
        assert scrubber.find(text) == _without_index(scrubber).find(text)


def test_a_keyword_that_is_context_makes_its_rule_read_everything() -> None:
    """The kernel key is named by "signature_scheme" elsewhere in the file: not near it."""
    key = str(uuid.UUID(int=7))
    text = json.dumps({"key": key, **{f"f{i}": "x" * 40 for i in range(200)},
                       "signature_scheme": "hmac-sha256"})  # fmt: skip
    assert len(text) > 4096 and key not in SCRUBBERS["full"].scrub(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nvidia-cudnn-cu12 8.9.2.26", None),
        ("torch==2.1.0.1 at 10.0.0.7", "torch==2.1.0.1 at <redacted:ip_address>"),
        ("ping 8.8.4.4", "ping <redacted:ip_address>"),
        ("git@github.com:org/repo.git", None),
        ("mail alice@example.com: done", "mail <redacted:email>: done"),
        ("attn = q@k.transpose(-2, -1)", None),
        ("PWD=/root/work", None),
        ("PWD=hunter2x", "PWD=<redacted:password>"),
        ("Access-Control-Allow-Headers: Authorization, Content-Type", None),
        ("card 4111 1111 1111 1111", "card <redacted:card_number>"),
        ("card 4111 1111 1111 1112", None),  # fails Luhn's check
        ("x[1::2] and fe80::1ff:fe23:4567:890a", "x[1::2] and <redacted:ip_address>"),
        ("SENDGRID_API_KEY=SG." + "abcdefghij0123456789AB." + "abcdefghij0123456789" * 2 + "abc",
         "SENDGRID_API_KEY=<redacted:sendgrid_key>"),
    ],
)  # fmt: skip
def test_what_the_issue_named_is_told_apart(text: str, expected: str | None) -> None:
    assert SCRUBBERS["redacted"].scrub(text) == (text if expected is None else expected)


def test_a_lone_surrogate_in_a_long_text_falls_back_to_keyword_tests() -> None:
    token = SecretMaker(5).github()
    text = "\ud800 " + "filler line\n" * 600 + f"token {token}\n"
    assert token not in SCRUBBERS["full"].scrub(text)
    assert token not in SCRUBBERS["full"].scrub(f"\ud800 {token}")


# -- properties of the personal-data rules -------------------------------------------------------------


def _luhn_complete(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        d = int(char) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


@settings(max_examples=100, deadline=None)
@given(body=st.text(alphabet=string.digits, min_size=14, max_size=14), grouped=st.booleans())
def test_a_luhn_valid_card_is_taken_and_a_wrong_check_digit_is_not(
    body: str, grouped: bool
) -> None:
    number = _luhn_complete("4" + body)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)

    def shown(digits: str) -> str:
        return " ".join(digits[i : i + 4] for i in range(0, 16, 4)) if grouped else digits

    scrubber = SCRUBBERS["redacted"]
    assert scrubber.scrub(f"card: {shown(number)}") == "card: <redacted:card_number>"
    assert scrubber.find(f"card: {shown(wrong)}") == []


@settings(max_examples=100, deadline=None)
@given(
    name=st.from_regex(r"[a-z][a-z0-9-]{2,20}", fullmatch=True),
    parts=st.lists(st.integers(min_value=0, max_value=255), min_size=4, max_size=4),
    gap=st.sampled_from([" ", "  ", " " * 12, "\t", "=="]),
)
def test_a_four_part_version_after_a_package_name_is_not_an_address(
    name: str, parts: list[int], gap: str
) -> None:
    version = ".".join(map(str, parts))
    for line in (f"{name}{gap}{version}", f"{name}-{version}-py3-none-any.whl"):
        assert SCRUBBERS["redacted"].find(line) == [], line


@settings(max_examples=100, deadline=None)
@given(address=st.ip_addresses(v=6).filter(lambda a: a.is_global or a.is_private))
def test_an_ipv6_address_is_taken(address) -> None:  # type: ignore[no-untyped-def]
    text = f"inet6 {address}/64 scope global"
    groups = [g for g in str(address).split(":") if g]
    if len(groups) < 2 or (str(address).count(":") < 4 and all(len(g) < 4 for g in groups)):
        return  # too short to tell from a slice (a[1::2]): left alone on purpose
    assert SCRUBBERS["redacted"].scrub(text) == "inet6 <redacted:ip_address>/64 scope global"


def test_every_match_holds_one_of_its_rules_keywords() -> None:
    """What the keyword index relies on to read only near keywords (``near`` rules)."""
    rules = SECRET_RULES + PERSONAL_RULES
    for text in _LONG_PIECES:
        folded = text.lower()
        for rule in rules:
            if not rule.near or not rule.keywords:
                continue
            subject = folded if rule.fold else text
            for match in rule.pattern.finditer(subject):
                start, end = max(0, match.start() - rule.back), match.end()
                held = any(word in subject[start:end] for word in rule.keywords)
                assert held, f"{rule.kind}: {subject[start:end]!r} holds none of {rule.keywords}"


# -- rules tried only where a run starts (Rule.starts, runs.py) find what finditer finds ----------------

_STARTS_RULES = [r for r in SCRUBBERS["redacted"].rules if r.starts is not None]
_B64_CHARS = string.ascii_letters + string.digits + "+/"
# Pieces whose joins make every edge a pattern's lookarounds read: padding, url-safe marks,
# backslash escapes, characters beyond latin-1 (replaced on the way to bytes), runs near each
# length limit, digits in groups.
_RUN_PIECES = st.one_of(
    st.sampled_from(["=", "==", "===", "_", "-", "\\", "\\n", "\\\\", " ", "\n", "█", "é", "\ud800",
                     "+", "/", "(", ")", ".", ":", "4111", " 1111", "-555-", "+44 ", "token=",
                     "Client_Secret: ", "_authToken=", "credentials=", "API_KEY", "'", '"', "4111-1111",
                     " 4111 1111 1111 1111", "5500000000000004", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAx",
                     ".GxYz9a.", "N" + "aB3_9zQ-" * 3]),
    st.integers(min_value=1, max_value=40).map(lambda n: ("aB3+/9zQ" * 6)[:n]),
    st.sampled_from([12, 13, 14, 15, 16, 255, 256, 257, 4092, 4093, 4094, 4095]).map(
        lambda n: ("Zm9vYmFyOg" * 410)[:n]),
    st.text(alphabet=string.digits, min_size=1, max_size=20),
    st.text(alphabet=_B64_CHARS, min_size=1, max_size=30).map(
        lambda s: base64.b64encode(f"alice:{s}hunter2".encode()).decode()),
)  # fmt: skip


def _both_ways(rule, text: str, windows=None):  # type: ignore[no-untyped-def]
    plain = dataclasses.replace(rule, starts=None)
    folded = text.lower()
    return list(rule.findings(text, folded, windows)), list(plain.findings(text, folded, windows))


def test_some_rules_are_tried_only_where_a_run_starts() -> None:
    kinds = {rule.kind for rule in _STARTS_RULES}
    assert {"base64", "encoded_secret", "card_number", "phone", "discord_token", "token"} <= kinds


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_RUN_PIECES, min_size=1, max_size=12))
def test_trying_a_pattern_only_at_its_starts_finds_what_finditer_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    for rule in _STARTS_RULES:
        anchored, plain = _both_ways(rule, text)
        assert anchored == plain, rule.kind
        # in windows too, cut anywhere (what the keyword index and the second look hand over)
        cut = len(text) // 3
        anchored, plain = _both_ways(rule, text, [(0, cut), (cut + 1, len(text))])
        assert anchored == plain, rule.kind


def _auth(secret: str = "hunter2hunter2") -> str:
    return base64.b64encode(f"alice:{secret}".encode()).decode()


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,  # the whole text
        lambda a: a + "\n",  # at the start
        lambda a: "auth " + a,  # at the end
        lambda a: '{"auth": "\\n' + a + '\\n"}',  # after and before an escaped line break
        lambda a: "█" + a + "█",  # beside characters beyond latin-1
        lambda a: "\ud800" + a,  # beside a lone surrogate
        lambda a: "iVBORw0KGgo" * 30 + "\n" + a,  # a blob on the line before
        lambda a: "iVBORw0KGgo" * 30 + " " + a + " " + "iVBORw0KGgo" * 30,  # between two blobs
        lambda a: "x = 1\n" * 700 + a + "\n" + "y = 2\n" * 700,  # a long text (keyword windows)
        lambda a: "x = 1\n" * 700 + a,  # at the end of a long text
        # beside a redaction that makes the scrubber look again at the lines near it
        lambda a: "https://api.telegram.org/bot1234567890:AA" + "b" * 33 + "/send " + a,
    ],
)
def test_base64_of_a_credential_is_taken_wherever_it_stands(make) -> None:  # type: ignore[no-untyped-def]
    auth = _auth()
    for scrubber in SCRUBBERS.values():
        scrubbed = scrubber.scrub(make(auth))
        assert auth not in scrubbed and "<redacted:encoded_secret>" in scrubbed, scrubbed


def test_a_blob_and_a_segment_side_by_side_are_each_found() -> None:
    blob = "iVBORw0KGgo" * 30
    text = f"{blob} {_auth()}\n{blob}\n{_auth('s3cretpass')}"
    scrubbed, found = SCRUBBERS["redacted"].scrub_counted(text)
    assert found["base64"] == 2 and found["encoded_secret"] == 2, found
    assert _auth() not in scrubbed


def test_on_the_corpora_trying_only_at_the_starts_finds_what_finditer_finds() -> None:
    for text in _LONG_PIECES:
        for rule in _STARTS_RULES:
            anchored, plain = _both_ways(rule, text)
            assert anchored == plain, (rule.kind, text)


def test_a_rule_read_whole_runs_only_where_one_of_its_keywords_occurs() -> None:
    """A kernel's key is taken in its connection file (signature_scheme named there), not in any
    JSON with a "key": in a long text as in a short one."""
    line = '{"key": "0123456789abcdef0123456789abcdef"}\n'
    text = line + "filler line\n" * 400
    assert len(text) > 4096  # read through the keyword index
    for scrubber in SCRUBBERS.values():
        assert scrubber.scrub(text) == text == _without_index(scrubber).scrub(text)
        keyed = line + '"signature_scheme": "hmac-sha256"\n' + text
        assert "<redacted:jupyter_kernel_key>" in scrubber.scrub(keyed)


@given(secret=st.text(max_size=12))
def test_mixed_answers_as_one_test_per_character_would(secret: str) -> None:
    has_digit = any(c.isdigit() for c in secret)
    has_upper = any(c.isupper() for c in secret)
    has_lower = any(c.islower() for c in secret)
    expected = (has_digit and (has_upper or has_lower)) or (has_upper and has_lower)
    assert mixed(secret) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789abcdef::..%xz \n", max_size=48))
def test_the_ipv6_groups_taken_possessively_match_what_backtracking_matches(text: str) -> None:
    (ipv6,) = [r for r in PERSONAL_RULES if r.kind == "ip_address" and r.pattern.pattern[0] == ":"]
    backtracking = re.compile(ipv6.pattern.pattern.replace("}+", "}"), ipv6.pattern.flags)
    assert backtracking.pattern != ipv6.pattern.pattern
    spans = [m.span() for m in ipv6.pattern.finditer(text)]
    assert spans == [m.span() for m in backtracking.finditer(text)]


def test_identifying_words_beyond_latin_1_are_found_in_a_long_text() -> None:
    """The keyword index reads latin-1 bytes only where every keyword has a latin-1 form."""
    for words in (["ноутбук-7f", "nb?4f7c", "café-01"], ["café-01", "nb-4f7c"]):
        text = "filler line █\n" * 400 + " ".join(words) + "\n"
        assert len(text) > 4096
        expected = " ".join(["<redacted:identifier>"] * len(words)) + "\n"
        assert personal_scrubber(words).scrub(text).endswith(expected), words
