"""The scrubber: every planted secret goes, nothing clean is touched, no input breaks it."""

from __future__ import annotations

import copy
import json
import random
import re
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secret_cases import (
    clean_notebook_text,
    format_corpus,
    named_corpus,
    near_misses,
    personal_corpus,
)
from secret_corpus import B64, SecretMaker, clean_corpus, planted_corpus

from gclog.privacy.excerpt import MARGIN, MIN_CAP, scrub_excerpt
from gclog.privacy.rules import (
    BLOB_RULES,
    MAX_SECRET_CHARS,
    PERSONAL_RULES,
    SECRET_RULES,
    personal_scrubber,
    secret_scrubber,
)
from gclog.privacy.scrubber import Scrubber, fold

try:
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef]

PLANTED = planted_corpus() + format_corpus() + named_corpus()
PERSONAL = personal_corpus()
SCRUBBERS = {"full": secret_scrubber(), "redacted": personal_scrubber(["nb-4f7c2a91"])}


def fragments(value: str) -> list[str]:
    """Pieces of a secret that must not survive anywhere: each of its lines (PEM headers aside),
    and for long lines every 16-character window, so a partial leak counts as a leak."""
    pieces = []
    for line in value.splitlines():
        if line.startswith("-----") or len(line) < 6:
            continue
        if len(line) <= 16:
            pieces.append(line)
        else:
            pieces += [line[i : i + 16] for i in range(0, len(line) - 15, 8)]
    return pieces


# -- the planted corpus -------------------------------------------------------------------------------


@pytest.mark.parametrize("level", SCRUBBERS)
@pytest.mark.parametrize("planted", PLANTED, ids=lambda p: f"{p.kind}-{p.context}")
def test_every_planted_secret_is_redacted(planted, level: str) -> None:
    scrubbed = SCRUBBERS[level].scrub(planted.text)
    for value in planted.values:
        leaked = [piece for piece in fragments(value) if piece in scrubbed]
        assert not leaked, f"{planted.kind} leaked {leaked[:2]} in {scrubbed!r}"
    assert f"<redacted:{planted.kind}>" in scrubbed, scrubbed


# Transcripts whose secret is found by its place on the screen (a column), which an escaped
# copy of the text no longer shows.
LAYOUT = frozenset({"rich table, wrapped"})

ENCODINGS = {
    "repr, as in code": repr,
    "JSON": json.dumps,
    "JSON in JSON": lambda text: json.dumps(json.dumps(text)),
}


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=list(ENCODINGS))
def test_planted_secrets_are_found_escaped_too(encode) -> None:
    """Code holds transcripts as string literals, outputs print JSON: the same secrets,
    with escaped quotes and line breaks around them."""
    scrubber = SCRUBBERS["redacted"]
    for planted in (p for p in PLANTED if p.context not in LAYOUT):
        scrubbed = scrubber.scrub(encode(planted.text))
        for value in planted.values:
            leaked = [piece for piece in fragments(value) if piece in scrubbed]
            assert not leaked, f"{planted.kind} ({planted.context}) leaked in {scrubbed!r}"


@pytest.mark.parametrize("planted", PERSONAL, ids=lambda p: f"{p.kind}-{p.context}")
def test_personal_data_is_redacted_at_the_redacted_level(planted) -> None:
    scrubbed = SCRUBBERS["redacted"].scrub(planted.text)
    for value in planted.values:
        assert value not in scrubbed, f"{planted.kind} leaked in {scrubbed!r}"
    assert f"<redacted:{planted.kind}>" in scrubbed, scrubbed


def test_every_kind_is_planted_in_two_contexts_at_least() -> None:
    contexts: dict[str, set[str]] = {}
    for planted in PLANTED + PERSONAL:
        contexts.setdefault(planted.kind, set()).add(planted.context)
    kinds = {rule.kind for rule in SECRET_RULES + PERSONAL_RULES}
    assert set(contexts) == kinds
    thin = {kind: sorted(c) for kind, c in contexts.items() if len(c) < 2}
    assert not thin, thin
    assert len(PLANTED) >= 250


@pytest.mark.parametrize(("kind", "text"), near_misses(), ids=[k for k, _ in near_misses()])
def test_a_near_miss_of_each_format_is_left_alone(kind: str, text: str) -> None:
    assert SCRUBBERS["redacted"].find(text) == [], SCRUBBERS["redacted"].scrub(text)


CLEAN = clean_corpus() + clean_notebook_text()


@pytest.mark.parametrize(("context", "text"), CLEAN, ids=[c for c, _ in CLEAN])
def test_the_clean_corpus_has_no_findings(context: str, text: str) -> None:
    rules = Scrubber(SECRET_RULES + PERSONAL_RULES)
    found = [(f.kind, text[f.start : f.end][:40]) for f in rules.find(text)]
    assert not found, f"{context}: {found}"


def test_base64_images_printed_as_text_are_reduced_not_flagged_as_secrets() -> None:
    for context, text in clean_corpus():
        if "PNG" not in context:
            continue
        png = re.search(r"iVBORw0KGgo[A-Za-z0-9+/=]+", text)
        assert png is not None
        scrubbed, counts = secret_scrubber().scrub_counted(text)
        assert png.group() not in scrubbed and counts == Counter({"base64": 1}), scrubbed[:200]


# -- what must and must not be taken ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password = 'hunter2'", "password = '<redacted:password>'"),
        ("db_password: hunter2", "db_password: <redacted:password>"),
        ("PGPASSWORD=s3cret", "PGPASSWORD=<redacted:password>"),
        ("--password hunter2 --user x", "--password <redacted:password> --user x"),
        (
            'cfg = "{\\"password\\": \\"hunter2\\"}"',
            'cfg = "{\\"password\\": \\"<redacted:password>\\"}"',
        ),
        ("accessToken: 'Ab12Cd34Ef56Gh78'", "accessToken: '<redacted:token>'"),
        ("os.environ['API_KEY'] = 'abcd1234efgh'", "os.environ['API_KEY'] = '<redacted:token>'"),
        ("x-api-key: AbCd1234EfGh5678", "x-api-key: <redacted:token>"),
        ("https://:pw@host/db", "https://:<redacted:url_password>@host/db"),
        ("https://u:p@ss@host/db", "https://u:<redacted:url_password>@host/db"),
        ("token = tokenizer(text)", None),
        ("pad_token = '[PAD]'", None),
        ("tokenizer.pad_token = tokenizer.eos_token", None),
        ("token_type_ids = inputs['token_type_ids']", None),
        ("password=password", None),
        ("password = None", None),
        ("def f(password: str = None): ...", None),
        ("password = getpass.getpass('Password: ')", None),
        ("if token == 'abc123def456':", None),
        ("max_tokens=256, secret_name='x'", None),
        ("http://localhost:8888/lab", None),
        ("Authorization: Bearer {token}", None),
        ("PASSWORD=$DB_PASSWORD", None),
        ("password: ********", None),
        ("password: <your-password>", None),
        ("login --password --verbose", None),
    ],
)
def test_true_and_false_positives(text: str, expected: str | None) -> None:
    assert secret_scrubber().scrub(text) == (text if expected is None else expected)


def test_a_pem_key_without_its_end_line_loses_its_body_but_not_what_follows() -> None:
    body = SecretMaker(3).pem_body(4)
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body) + "\nhello world\n"
    assert secret_scrubber().scrub(text) == "<redacted:private_key>\nhello world\n"


def test_personal_data_goes_at_redacted_only() -> None:
    text = "mail alice@example.com from /home/alice/x.py at 10.1.2.3 on nb-4f7c2a91 (127.0.0.1)"
    assert secret_scrubber().scrub(text) == text
    assert SCRUBBERS["redacted"].scrub(text) == (
        "mail <redacted:email> from /home/<redacted:user>/x.py at <redacted:ip_address> on "
        "<redacted:identifier> (127.0.0.1)"
    )


def test_a_url_password_is_not_taken_for_an_email() -> None:
    gl = SecretMaker(4).gitlab()
    text = f"https://oauth2:{gl}@gitlab.example.com/team/model.git"
    assert SCRUBBERS["redacted"].scrub(text) == (
        "https://oauth2:<redacted:gitlab_token>@gitlab.example.com/team/model.git"
    )


def test_unicode_that_changes_length_when_lowercased_keeps_spans_right() -> None:
    # 'İ'.lower() is two code points: case-folding rules then run on the text as written.
    text = "İİİ password = 'hunter2' İ"
    assert secret_scrubber().scrub(text) == "İİİ password = '<redacted:password>' İ"


# -- no catastrophic backtracking: every secret rule is bounded ----------------------------------------


@pytest.mark.parametrize("rule", SECRET_RULES + PERSONAL_RULES, ids=lambda r: r.kind)
def test_every_secret_rule_matches_a_bounded_length(rule) -> None:
    _, high = sre_parse.parse(rule.pattern.pattern, rule.pattern.flags).getwidth()
    assert high <= MAX_SECRET_CHARS, f"{rule.kind} can match {high} characters"


def test_the_blob_rule_is_one_class_and_the_only_unbounded_one() -> None:
    (blob,) = BLOB_RULES
    low, high = sre_parse.parse(blob.pattern.pattern).getwidth()
    assert low == 256 and high > MAX_SECRET_CHARS


# -- excerpts: cut to a cap, never through a secret ---------------------------------------------------


@pytest.mark.parametrize("length", [2_000, 30_000, 300_000])
@pytest.mark.parametrize("offset", [-60, -30, -5, 0, 5, 30])
def test_a_cut_never_leaves_part_of_a_secret(length: int, offset: int) -> None:
    """Secrets planted around every place a cut can fall: head budget, tail budget, windows."""
    cap = 1000
    secret = SecretMaker(offset + length).github()
    filler = "".join(random.Random(1).choices(string.ascii_lowercase + " \n", k=64))
    base = (filler * (length // len(filler) + 1))[:length]
    positions = [
        cap // 2 + offset,
        length - cap // 2 + offset,
        cap // 2 + MARGIN + offset,
        length - cap // 2 - MARGIN + offset,
    ]
    text = base
    for pos in sorted({max(0, min(length, p)) for p in positions}, reverse=True):
        text = f"{text[:pos]} {secret} {text[pos:]}"
    out, _ = scrub_excerpt(text, cap, secret_scrubber())
    assert len(out) <= cap
    assert not [piece for piece in fragments(secret) if piece in out], out
    assert "characters cut]" in out


def test_an_excerpt_reads_only_windows_of_a_long_text() -> None:
    seen: list[int] = []

    class Spy(Scrubber):
        def find(self, text: str):  # type: ignore[no-untyped-def]
            seen.append(len(text))
            return super().find(text)

    text = "line of training output\n" * 400_000  # ~9.6 MB
    out, _ = scrub_excerpt(text, 8192, Spy(SECRET_RULES))
    assert len(out) <= 8192 and out.startswith("line of") and out.endswith("output\n")
    assert max(seen) <= 8192 + 2 * MARGIN, seen


def test_the_cut_marker_counts_what_was_cut() -> None:
    text = "a" * 5000 + "b" * 5000
    out, _ = scrub_excerpt(text, 1000, secret_scrubber())
    kept = len(out) - len(re.search(r"\n…\[gclog: \d+ characters cut\]…\n", out).group())
    assert f"[gclog: {len(text) - kept} characters cut]" in out


# -- properties -----------------------------------------------------------------------------------------

_MAKER = SecretMaker(99)
_PIECES = [
    _MAKER.github(), _MAKER.huggingface(), _MAKER.aws_key_id(), _MAKER.aws_secret(), _MAKER.jwt(),
    _MAKER.openai(), _MAKER.rsa_pem(), _MAKER.slack_bot(), _MAKER.pypi(), _MAKER.google_api_key(),
    "hf_", "AKIA", "ghp_", "sk-", "eyJ", "password", "token", "secret", "api_key", "PASSWORD",
    "=", ":", " = ", ": ", "'", '"', "\\", "\\n", "\n", "\r", " ", "@", "://", "https://", "/home/",
    "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "Authorization: ", "Bearer ",
    "<redacted:token>", "<redacted:", ">", "x@example.com", "10.0.0.1", ".", "İ", "\x00", "\ud800",
    # a secret whose match reads the token characters it runs on from (Finding.framed)
    "https://api.telegram.org/bot", "bot", "1234567890:AA" + "b7" * 16 + "c", "!mysql -u root -p",
    "-p", "x.local", "ghp_",
]  # fmt: skip
texts = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(max_size=12),
        st.text(alphabet=B64 + "-_.=", min_size=1, max_size=320),
    ),
    max_size=24,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_scrubbing_is_idempotent(text: str) -> None:
    for scrubber in SCRUBBERS.values():
        once = scrubber.scrub(text)
        assert scrubber.scrub(once) == once


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cap=st.integers(min_value=MIN_CAP, max_value=3000))
def test_an_excerpt_never_exceeds_its_cap_and_is_stable(text: str, cap: int) -> None:
    for scrubber in SCRUBBERS.values():
        out, _ = scrub_excerpt(text, cap, scrubber)
        assert len(out) <= cap
        assert scrub_excerpt(out, cap, scrubber)[0] == out


@settings(max_examples=200, deadline=None)
@given(text=st.text(), cap=st.integers(min_value=MIN_CAP, max_value=500))
def test_scrubbing_never_raises(text: str, cap: int) -> None:
    for scrubber in SCRUBBERS.values():
        scrubber.scrub(text)
        scrub_excerpt(text, cap, scrubber)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec=None))
    | st.sampled_from(["İ", "ẞ", "Ł\U0001f600A", "\ud800B"])
)
def test_folding_lowers_ascii_letters_and_moves_no_character(text: str) -> None:
    folded = fold(text)
    assert len(folded) == len(text)
    for original, seen in zip(text, folded, strict=True):
        if original.isascii():
            assert seen == original.lower()
        else:
            assert not seen.isascii()
        assert seen.isspace() == original.isspace()


def test_a_scrub_keeps_no_bytes_of_its_text_once_it_ends() -> None:
    from gclog.privacy import windows

    text = "token=ghp_" + "a1B2" * 9 + "\n" + "card 4111 1111 1111 1111 " * 400
    scrubber = SCRUBBERS["redacted"]
    assert "<redacted:" in scrubber.scrub(text)
    assert windows._recent == ()  # the 10 KB it encoded once for all its finders went with it


def _without_length_skip(scrubber: Scrubber) -> Scrubber:
    every = copy.copy(scrubber)
    every._shortest = (0,) * len(scrubber.rules)  # every rule tried on every text
    return every


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_skipping_rules_longer_than_the_text_changes_no_finding(text: str) -> None:
    for scrubber in SCRUBBERS.values():
        assert scrubber.find(text) == _without_length_skip(scrubber).find(text)


def test_the_length_skip_changes_nothing_on_the_corpora() -> None:
    """Each planted text, and each planted value alone (a secret as short as it comes)."""
    planted = planted_corpus() + format_corpus() + named_corpus() + personal_corpus()
    texts_and_values = [p.text for p in planted] + [v for p in planted for v in p.values]
    texts_and_values += [text for text, _ in near_misses() + clean_notebook_text()]
    for scrubber in SCRUBBERS.values():
        every = _without_length_skip(scrubber)
        for text in texts_and_values:
            assert scrubber.find(text) == every.find(text), text
