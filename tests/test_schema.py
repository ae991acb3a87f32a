"""`gclog schema` and the shell completions, both generated from the code's single definitions."""

from __future__ import annotations

import json

import jsonschema
import pytest
from helpers import REPO, DrivenKernel, Env, write_notebook

from gclog.entry.cli import SHELLS, completion_script
from gclog.read.schema import athena_columns, athena_ddl, record_schemas


@pytest.mark.parametrize("level", ["full", "redacted", "metadata"])
def test_real_records_from_a_run_validate_against_the_schema(env: Env, level: str) -> None:
    path = write_notebook(
        env.root / "n.ipynb",
        "print('hi')",
        "from IPython.display import Image, display\nimport base64\n"
        "display(Image(base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')))",
        "1/0",
    )
    assert env.gclog("run", str(path), "--allow-errors", "--privacy", level).returncode == 0
    result = env.gclog("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    validator = jsonschema.Draft202012Validator(schema)
    records = env.records()
    assert {r["event_type"] for r in records} == {"session_start", "cell", "metrics", "session_end"}
    for record in records:
        errors = list(validator.iter_errors(record))
        assert not errors, (record["event_type"], [e.message for e in errors][:3])


def test_the_schema_rejects_what_is_not_a_record() -> None:
    validator = jsonschema.Draft202012Validator(record_schemas())
    assert not validator.is_valid({"event_type": "cell"})
    assert not validator.is_valid({"event_type": "bogus", "schema": "gclog/1"})


def test_every_field_is_documented() -> None:
    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if name != "event_type" and not _described(prop):
                    undocumented.append(f"{path}.{name}")
                walk(prop, f"{path}.{name}")
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    walk(node[key], path)

    undocumented: list[str] = []
    for branch in record_schemas()["oneOf"]:
        walk(branch, branch["title"])
    # Nested groups (kernel, output…) document their own fields; leaves need a description.
    assert undocumented == [], undocumented


def _described(prop: dict[str, object]) -> bool:
    return "description" in prop or prop.get("type") == "object" or "enum" in prop


def test_athena_table_has_one_column_per_field() -> None:
    columns = athena_columns()
    assert columns["seq"] == "bigint" and columns["duration_s"] == "double"
    assert columns["output"].startswith("struct<")
    ddl = athena_ddl("events", "s3://bucket/prefix/")
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS events" in ddl and "s3://bucket/prefix/" in ddl
    assert ddl.count("`event_id` string") == 1


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_scripts_in_the_repo_are_up_to_date(shell: str) -> None:
    names = {"bash": "gclog.bash", "zsh": "_gclog", "fish": "gclog.fish"}
    committed = (REPO / "completions" / names[shell]).read_text()
    assert committed == completion_script(shell) + "\n", "run `make completions`"


def test_attach_completes_running_kernel_ids(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", env.vars["JUPYTER_RUNTIME_DIR"])
    kernel = DrivenKernel(env)
    try:
        result = env.gclog(
            COMP_WORDS=f"gclog attach {kernel.kernel_id[:4]}",
            COMP_CWORD="2",
            _GCLOG_COMPLETE="bash_complete",
        )
        assert f"plain,{kernel.kernel_id}" in result.stdout.splitlines()
        commands = env.gclog(COMP_WORDS="gclog ", COMP_CWORD="1", _GCLOG_COMPLETE="bash_complete")
        offered = {line.split(",", 1)[1] for line in commands.stdout.splitlines()}
        assert {"run", "attach", "status", "export", "schema", "completion"} <= offered
    finally:
        kernel.shutdown()
