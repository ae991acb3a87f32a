"""`gclog analyze`: its sources (store, exports, Firehose's objects, S3), k-anonymity, the Athena
SQL, and the HTML page — over made-up fleets (test_fleet.py runs real sessions)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import boto3
import sqlglot
from browser import visit
from firehose_helpers import AWS_TEST_ENV
from fleet_records import Run, Sess, records_of
from helpers import Env, one_line_error

from gclog.read.analyze.athena import queries, unique_view
from gclog.read.schema import athena_ddl


def planted() -> list[dict[str, Any]]:
    """6 users of one notebook: 4 stop at cell 2 failing on a missing module, 2 finish; one
    session without an end; a second notebook with 2 users only."""
    records: list[dict[str, Any]] = []
    for n in range(6):
        runs = [Run(0, wait_s=2.0), Run(1, edited=n == 0)]
        if n < 4:
            runs.append(Run(2, "error", error=("ModuleNotFoundError", "No module named 'torch'")))
            end = "cell_error" if n < 3 else None
        else:
            runs += [Run(2), Run(2), Run(3, rss_peak=2**30 * (n - 3))]
            end = "completed"
        records += records_of(Sess(f"user{n}", "nb-tutorial", runs, end=end))
    for n in range(2):
        records += records_of(Sess(f"other{n}", "nb-small", [Run(0)]))
    return records


def write_ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def analyze_json(env: Env, *args: str) -> dict[str, Any]:
    result = env.gclog("analyze", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_planted(answers: dict[str, Any], k: int) -> None:
    (nb,) = [n for n in answers["notebooks"] if n["notebook"] == "nb-tutorial"]
    assert (nb["sessions"], nb["users"]) == (6, 6)
    cells = {c["index"]: c for c in nb["cells"]}
    assert [cells[i]["reached"] for i in sorted(cells)] == [6, 6, 6, 2][: len(cells)]
    assert len(cells) == (4 if k <= 2 else 3)
    assert cells[2]["executions"] == 8 and cells[2]["reruns"] == 2
    assert cells[2]["failed_sessions"] == 4
    assert cells[2]["failure_share"] == round(4 / 6, 6)
    assert cells[1]["edited_share"] == round(1 / 6, 6)
    assert cells[0]["wait_before_s"]["p50"] is None and cells[1]["wait_before_s"]["p50"] == 1.0
    ends = {(e["index"], e["reason"]): e["sessions"] for e in nb["ends"]}
    assert ends.get((2, "cell_error")) == (3 if k <= 3 else None)
    assert ends.get((3, "completed")) == (2 if k <= 2 else None)
    assert ends.get((2, "open")) == (1 if k <= 1 else None)


def test_exports_and_firehose_objects_give_the_same_answers(env: Env) -> None:
    records = planted()
    export = write_ndjson(env.root / "export.ndjson", records)
    from_export = analyze_json(env, str(export), "--min-users", "1")
    check_planted(from_export, 1)
    (nb,) = [n for n in from_export["notebooks"] if n["notebook"] == "nb-tutorial"]
    assert nb["cells"][2]["errors"] == [
        {
            "ename": "ModuleNotFoundError",
            "signature": "ModuleNotFoundError: No module named 'torch'",
            "sessions": 4,
        }
    ]
    assert nb["rss_peak_bytes"] == {"p50": round(1.5 * 2**30), "p95": round(1.95 * 2**30)}
    # As Firehose delivers them: hour prefixes, objects of concatenated JSON (no newline between),
    # some gzipped, duplicates (at-least-once), a torn object and an empty one.
    shuffled = records + random.Random(3).sample(records, 15)
    random.Random(4).shuffle(shuffled)
    root = env.root / "bucket" / "gclog"
    for n in range(0, len(shuffled), 20):
        hour = root / "2026" / "12" / "01" / f"{n // 40:02d}"
        hour.mkdir(parents=True, exist_ok=True)
        body = "".join(json.dumps(r) for r in shuffled[n : n + 20]).encode()
        name = hour / f"gclog-stream-1-2026-12-01-{n:04d}"
        if n % 40:
            name.write_bytes(gzip.compress(body))
        else:
            name.write_bytes(body)
    (root / "2026" / "12" / "01" / "00" / "empty").write_bytes(b"")
    torn = json.dumps(records[0]) + "\n" + '{"event_id": "x", "seq"\n'  # cut short, then skipped
    (root / "2026" / "12" / "01" / "00" / "torn").write_text(torn)
    assert analyze_json(env, str(root), "--min-users", "1") == from_export


def test_groups_of_fewer_than_k_users_are_left_out(env: Env) -> None:
    export = write_ndjson(env.root / "export.ndjson", planted())
    answers = analyze_json(env, str(export))  # the default: 5
    assert answers["min_users"] == 5
    assert [n["notebook"] for n in answers["notebooks"]] == ["nb-tutorial"]  # nb-small: 2 users
    (nb,) = answers["notebooks"]
    assert [c["index"] for c in nb["cells"]] == [0, 1, 2]  # cell 3: 2 users
    assert nb["cells"][2]["errors"] == []  # the error: 4 users
    assert nb["ends"] == []  # no end is shared by 5 users
    check_planted(answers, 5)
    text = env.gclog("analyze", str(export))
    assert text.returncode == 0, text.stderr
    assert "nb-tutorial" in text.stdout and "nb-small" not in text.stdout
    assert "fewer than 5 users are not shown" in text.stdout


def test_error_signatures_group_what_differs_only_in_numbers(env: Env) -> None:
    records = []
    for n in range(3):
        error = ("ValueError", f"shape mismatch: {n + 3} != {n + 4} at 0x{n + 10:x}\n  in layer")
        records += records_of(Sess(f"u{n}", "nb", [Run(0, "error", error=error)]))
    records += records_of(Sess("u9", "nb", [Run(0, "error", error=("KeyError", None))]))
    answers = analyze_json(
        env, str(write_ndjson(env.root / "e.ndjson", records)), "--min-users", "1"
    )
    assert answers["notebooks"][0]["cells"][0]["errors"] == [
        {
            "ename": "ValueError",
            "signature": "ValueError: shape mismatch: N != N at <hex> in layer",
            "sessions": 3,
        },
        {"ename": "KeyError", "signature": "KeyError", "sessions": 1},
    ]


def test_the_local_store_is_the_default_source(env: Env) -> None:
    missing = env.gclog("analyze")
    assert missing.returncode == 2
    assert "no store at" in one_line_error(missing.stderr)
    from gclog.store.store import Store

    env.home.mkdir(parents=True)
    with Store(env.store) as store:
        for record in planted():
            store.append(record)
    check_planted(analyze_json(env, "--min-users", "1"), 1)


def test_bad_sources_are_one_line_errors(env: Env) -> None:
    result = env.gclog("analyze", str(env.root / "nope"))
    assert result.returncode == 2
    assert "no such file or directory" in one_line_error(result.stderr)
    result = env.gclog("analyze", "--min-users", "0")
    assert result.returncode == 2
    one_line_error(result.stderr)


def test_s3_source_through_boto3(env: Env, moto_endpoint: str) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        **{
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        },
    )
    s3.create_bucket(Bucket="analyze-src")
    records = planted()
    for n in range(0, len(records), 25):
        body = "".join(json.dumps(r) + "\n" for r in records[n : n + 25]).encode()
        s3.put_object(Bucket="analyze-src", Key=f"gclog/2026/12/01/09/part-{n}", Body=body)
    s3.put_object(Bucket="analyze-src", Key="elsewhere/x", Body=b'{"event_id": "1"}\n')
    result = env.gclog(
        "analyze",
        "--json",
        "--min-users",
        "1",
        "s3://analyze-src/gclog/",
        "--endpoint-url",
        moto_endpoint,
        **AWS_TEST_ENV,
    )
    assert result.returncode == 0, result.stderr
    check_planted(json.loads(result.stdout), 1)
    bad = env.gclog(
        "analyze", "s3://no-such-bucket-here/x", "--endpoint-url", moto_endpoint, **AWS_TEST_ENV
    )
    assert bad.returncode == 2
    assert "s3://no-such-bucket-here/x" in one_line_error(bad.stderr)


def test_athena_sql_parses_as_trino_and_the_table_is_projected(env: Env) -> None:
    for name, sql in queries("gclog_events", 5).items():
        tree = sqlglot.parse_one(sql, read="trino")
        text = tree.sql(dialect="trino")
        assert "gclog_events_unique" in text, name
        assert "QUANTILE_CONT" not in text.upper() and "PERCENTILE_CONT" not in text.upper()
        assert "'g')" not in text  # DuckDB's flag: Trino's regexp_replace has no such argument
        assert ">= 5" in text
    assert "APPROX_PERCENTILE" in queries("t", 5)["cells"].upper()
    sqlglot.parse_one(unique_view("gclog_events"), read="trino")
    ddl = athena_ddl("gclog_events", "s3://b/p/")
    assert "PARTITIONED BY (`dt` string)" in ddl
    assert "'projection.dt.format' = 'yyyy/MM/dd/HH'" in ddl
    assert "'storage.location.template' = 's3://b/p/${dt}/'" in ddl
    assert "CREATE OR REPLACE VIEW gclog_events_unique" in ddl
    printed = env.gclog("analyze", "--sql", "athena", "--table", "t", "--min-users", "7")
    assert (
        printed.returncode == 0 and "FROM t_unique" in printed.stdout and ">= 7" in printed.stdout
    )


def test_html_fleet_report_renders_offline_in_chromium(env: Env) -> None:
    export = write_ndjson(env.root / "export.ndjson", planted())
    page = env.root / "fleet.html"
    result = env.gclog("analyze", str(export), "--min-users", "1", "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert "<script src=" not in page.read_text()
    seen = visit(
        page,
        {
            "notebooks": "section.notebook",
            "funnel bars": "#notebook-0 .funnellayer .point",
            "bars": "#notebook-0 .barlayer .point",
        },
    )
    assert seen.counts["notebooks"] == 2
    assert seen.counts["funnel bars"] == 4  # the four cells of nb-tutorial
    assert seen.counts["bars"] >= 4
    assert seen.console_errors == [] and seen.network == []


def _shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (a list: the shape of its first item)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def test_the_readme_shows_the_json_shape_analyze_prints(env: Env) -> None:
    from helpers import REPO

    readme = (REPO / "README.md").read_text()
    section = readme.split("## For the people who publish notebooks", 1)[1].split("\n## ", 1)[0]
    documented = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    answers = analyze_json(
        env, str(write_ndjson(env.root / "e.ndjson", planted())), "--min-users", "1"
    )
    nb = answers["notebooks"][0]
    nb["cells"] = [c for c in nb["cells"] if c["errors"]]  # one with every part filled in
    assert _shape(answers) == _shape(documented)
    for command in ("gclog stamp", "gclog analyze --sql athena", "gclog schema --athena"):
        assert command in section
    assert 'c.InteractiveShellApp.extensions = ["gclog"]' in section


def test_sources_without_records_say_so(env: Env) -> None:
    empty = env.root / "empty"
    empty.mkdir()
    (empty / "nothing").write_bytes(b"")
    result = env.gclog("analyze", str(empty))
    assert result.returncode == 0, result.stderr
    assert "No notebook has 5 or more users" in result.stdout
    assert analyze_json(env, str(empty)) == {"min_users": 5, "notebooks": []}
