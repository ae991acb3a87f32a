"""The record filter: every string of every record, each level, caps, binary, size, failure."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from secret_corpus import SecretMaker

from gclog.privacy import filter as filter_module
from gclog.privacy.filter import (
    OTHER_TEXT_CAP,
    RECORD_BYTES_LIMIT,
    TEXT_FIELDS,
    PrivacyFilter,
    fit,
)
from gclog.shrink import json_size

MAKER = SecretMaker(7)
GH = MAKER.github()
HF = MAKER.huggingface()
PEM = MAKER.rsa_pem()


def cell_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema": "gclog/1",
        "event_id": "e1",
        "event_type": "cell",
        "event_time": "2026-12-01T00:00:00.000000Z",
        "session_id": "s1",
        "seq": 2,
        "source": "run",
        "user_id": "u1",
        "notebook_id": "n1",
        "gclog_version": "0.1.0",
        "index": 0,
        "status": "error",
        "code": f"token = '{GH}'\nprint('mail alice@example.com')",
        "code_sha256": "raw",
        "code_lines": 2,
        "output": {
            "count": 2,
            "by_type": {"stream": 1, "error": 1},
            "bytes_by_mime": {"stream/stdout": 40},
            "stdout": f"HF_TOKEN={HF}\nalice@example.com\n",
            "stderr": None,
            "result": None,
            "images": [{"mime": "image/png", "bytes": 100, "sha256": "ab" * 32}],
        },
        "error": {
            "ename": "ValueError",
            "evalue": f"bad key {PEM}",
            "traceback": f"Traceback ...\nValueError: bad key {PEM}",
        },
    }
    record.update(changes)
    return record


def text_of(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


@pytest.mark.parametrize("level", ["full", "redacted", "metadata"])
def test_no_secret_survives_at_any_level(level: str) -> None:
    out = PrivacyFilter(level)(cell_record())
    dumped = text_of(out)
    for secret in (GH, HF, *PEM.splitlines()[1:-1]):
        assert secret not in dumped
    assert out["event_id"] == "e1" and out["seq"] == 2 and out["status"] == "error"


def test_full_keeps_code_and_output_scrubbed_of_secrets_only() -> None:
    out = PrivacyFilter("full")(cell_record())
    assert out["code"] == "token = '<redacted:github_token>'\nprint('mail alice@example.com')"
    assert out["output"]["stdout"] == "HF_TOKEN=<redacted:huggingface_token>\nalice@example.com\n"
    assert out["error"]["evalue"] == "bad key <redacted:private_key>"
    assert out["redactions"] == {"github_token": 1, "huggingface_token": 1, "private_key": 2}


def test_redacted_also_removes_personal_data() -> None:
    out = PrivacyFilter("redacted")(cell_record())
    assert out["code"] == "token = '<redacted:github_token>'\nprint('mail <redacted:email>')"
    assert out["output"]["stdout"] == "HF_TOKEN=<redacted:huggingface_token>\n<redacted:email>\n"
    assert out["redactions"]["email"] == 2


def test_metadata_keeps_no_text_only_hashes_sizes_and_counts() -> None:
    out = PrivacyFilter("metadata")(cell_record())
    assert out["code"] is None
    assert out["output"]["stdout"] is None and out["output"]["stderr"] is None
    assert out["error"] == {"ename": "ValueError", "evalue": None, "traceback": None}
    assert out["output"]["bytes_by_mime"] == {"stream/stdout": 40}
    assert out["output"]["images"][0]["sha256"] == "ab" * 32
    assert len(out["code_sha256"]) == 64 and out["code_lines"] == 2
    odd = PrivacyFilter("metadata")(
        cell_record(error={"ename": "Error: x=1", "evalue": "", "traceback": ""})
    )
    assert odd["error"]["ename"] is None  # not a class name: it is text
    start = PrivacyFilter("metadata")(
        {"event_type": "session_start", "notebook": {"name": "alice-taxes.ipynb", "code_cells": 3}}
    )
    assert start["notebook"] == {"name": None, "code_cells": 3}


def test_the_code_hash_is_of_the_scrubbed_code() -> None:
    """Same cell, different keys: same hash; and the hash gives no handle on the secret."""
    one = PrivacyFilter("full")(cell_record(code=f"login('{MAKER.huggingface()}')"))
    two = PrivacyFilter("full")(cell_record(code=f"login('{MAKER.huggingface()}')"))
    assert one["code_sha256"] == two["code_sha256"]
    expected = "login('<redacted:huggingface_token>')"
    assert one["code_sha256"] == hashlib.sha256(expected.encode()).hexdigest()
    at_metadata = PrivacyFilter("metadata")(cell_record(code=f"login('{HF}')"))
    assert at_metadata["code_sha256"] == one["code_sha256"]


def test_fields_nobody_told_the_filter_about_are_scrubbed_too() -> None:
    record = cell_record(
        resources={"note": f"auth with {GH}", "nested": [{"deep": f"Bearer {GH}"}]},
        **{f"key {GH}": 1},
    )
    dumped = text_of(PrivacyFilter("full")(record))
    assert GH not in dumped
    assert "<redacted:github_token>" in dumped


def test_every_text_field_is_cut_to_its_documented_cap() -> None:
    huge = "x" * 300_000 + "\n"
    record = cell_record(
        code=huge,
        output={"stdout": huge, "stderr": huge, "result": huge, "images": []},
        error={"ename": "E", "evalue": huge, "traceback": huge},
        free_text=huge,
    )
    out = PrivacyFilter("full")(record)
    for path, field in TEXT_FIELDS.items():
        event, _, rest = path.partition(".")
        if event != "cell":
            continue
        value: Any = out
        for name in rest.split("."):
            value = value[name]
        assert len(value) <= field.cap and "characters cut]" in value, path
    assert len(out["free_text"]) <= OTHER_TEXT_CAP


def test_nothing_binary_or_invalid_gets_through() -> None:
    record = cell_record(
        output={"stdout": "a\x00b\x1b[31mc\ud800d\x7f", "images": []},
        blob=b"\x89PNG\r\n",
        ratio=math.nan,
        peak=math.inf,
        when=object(),
    )
    out = PrivacyFilter("full")(record)
    assert out["output"]["stdout"] == "a\ufffdb\ufffd[31mc\ufffdd\ufffd"
    assert out["blob"] == "<binary: 6 bytes>"
    assert out["ratio"] is None and out["peak"] is None
    assert isinstance(out["when"], str)
    json.dumps(out, ensure_ascii=False, allow_nan=False).encode("utf-8")


def test_a_record_never_outgrows_the_size_limit() -> None:
    wide = "😀" * 60_000  # 4 bytes each in UTF-8
    record = cell_record(
        code=wide,
        output={"stdout": wide, "stderr": wide, "result": wide, "images": []},
        error={"ename": "E", "evalue": wide, "traceback": wide},
        extra=[wide[:4000]] * 200,
    )
    out = PrivacyFilter("full")(record)
    assert len(json.dumps(out, ensure_ascii=False).encode()) <= RECORD_BYTES_LIMIT


sized_values = st.recursive(
    st.none()
    | st.integers()
    | st.floats()
    | st.text(max_size=600)
    # wide, control and escaped characters: more bytes of JSON than characters
    | st.text(alphabet='é😀\x01"\\', min_size=100, max_size=600),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=120, deadline=None)
@given(fields=st.dictionaries(st.text(max_size=12), sized_values, max_size=8))
def test_only_records_that_fit_are_left_unmeasured(monkeypatch_limit, fields) -> None:
    """The filter skips the size guard when the walk's bound says the record fits: the bound
    must never be under the record's real size (a small limit makes records of every size)."""
    privacy = PrivacyFilter("full")
    out = privacy({**fields, "event_type": "cell", "code": "x = 1"})
    size = json_size(out)
    if size > monkeypatch_limit:  # over the limit only where the guard could cut nothing more
        assert json_size(fit(copy.deepcopy(out), privacy.scrubber, monkeypatch_limit)) == size


@pytest.fixture(scope="module")
def monkeypatch_limit() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(filter_module, "RECORD_BYTES_LIMIT", 1500)
        yield 1500


def test_a_short_value_seen_before_is_redacted_and_counted_again() -> None:
    """Short values are remembered scrubbed: each record still loses and counts its secret."""
    privacy = PrivacyFilter("redacted")
    records = [
        privacy(cell_record(seq=n, note=f"key {GH}", who="alice@example.com")) for n in (1, 2)
    ]
    for out in records:
        assert GH not in text_of(out) and "alice@example.com" not in text_of(out)
        assert out["note"] == "key <redacted:github_token>"
        assert out["redactions"]["github_token"] == 2  # the code's, and the note's
        assert out["redactions"]["email"] == 3


def test_a_failing_filter_keeps_the_envelope_and_nothing_else(capsys) -> None:
    privacy = PrivacyFilter("full")

    class Broken:
        def find(self, text: str) -> list[Any]:
            raise RuntimeError("boom")

        def scrub_counted(self, text: str) -> Any:
            raise RuntimeError("boom")

    privacy.scrubber = Broken()  # type: ignore[assignment]
    first = privacy(cell_record())
    second = privacy(cell_record(seq=3))
    assert first["privacy_filter_error"] == "RuntimeError"
    assert first["event_id"] == "e1" and second["seq"] == 3
    assert GH not in text_of(first) and "code" not in first and "output" not in first
    assert capsys.readouterr().err.count("privacy filter failed") == 1


def test_the_filter_does_not_change_its_input() -> None:
    record = cell_record()
    before = copy.deepcopy(record)
    PrivacyFilter("redacted")(record)
    assert record == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    level=st.sampled_from(["full", "redacted", "metadata"]),
    event=st.sampled_from(["cell", "session_start", "metrics", "anything"]),
)
def test_the_filter_never_raises_and_always_gives_valid_json(fields, level, event) -> None:
    out = PrivacyFilter(level)({**fields, "event_type": event})
    assert "privacy_filter_error" not in out
    json.dumps(out, ensure_ascii=False, allow_nan=False).encode("utf-8")


def hex_run(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789abcdef", min_size=n, max_size=n)


client_ids = st.one_of(
    # jupyter_client: "<8 hex>-<24 hex>_<pid>_<n>"
    st.builds(
        lambda a, b, pid, n: f"{a}-{b}_{pid}_{n}",
        hex_run(8),
        hex_run(24),
        st.integers(1, 2**22),
        st.integers(0, 10**9),
    ),
    # the browser front ends: a UUID
    st.builds(
        lambda *parts: "-".join(parts), hex_run(8), hex_run(4), hex_run(4), hex_run(4), hex_run(12)
    ),
)


@settings(max_examples=300, deadline=None)
@given(msg_id=client_ids, level=st.sampled_from(["full", "redacted"]))
def test_a_client_msg_id_kept_unscrubbed_is_what_the_scrubber_would_keep(msg_id, level) -> None:
    """The filter skips the scrub for id-shaped msg_ids: sound only because the scrubber never
    changes one, which this checks on the same shapes."""
    filter_ = PrivacyFilter(level)
    assert filter_.scrubber.scrub_counted(msg_id)[0] == msg_id
    assert filter_(cell_record(msg_id=msg_id))["msg_id"] == msg_id


@pytest.mark.parametrize(
    "msg_id",
    [
        GH,
        f"0a1b2c3d-{'e' * 24}_12_3 {GH}",
        f"{GH}-0a1b2c3d",
        "password=hunter2hunter2",
        f"0a1b2c3d-{'e' * 24}_12_3\nalice@example.com",
    ],
)
def test_anything_else_in_msg_id_is_scrubbed(msg_id: str) -> None:
    out = PrivacyFilter("redacted")(cell_record(msg_id=msg_id))
    assert GH not in out["msg_id"]
    assert "hunter2" not in out["msg_id"]
    assert "alice@example.com" not in out["msg_id"]
