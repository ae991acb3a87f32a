"""``gclog analyze``: gather the sources, run the SQL, print the answers the way asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gclog.config import Paths


def run_analyze(
    sources: list[str],
    paths: Paths,
    *,
    as_json: bool,
    html_path: Path | None,
    min_users: int,
    dialect: str | None,
    table: str,
    endpoint_url: str | None,
    out: Any,
    err: Any,
) -> int:
    if dialect == "athena":
        from gclog.read.analyze.athena import script

        out.file.write(script(table, min_users))
        return 0
    from gclog.read.analyze.results import analyze, connect
    from gclog.read.analyze.sources import gather

    with gather(sources, paths.store, endpoint_url) as files:
        con = connect(files)
        answers = analyze(con, min_users)
        con.close()
    if html_path is not None:
        from gclog.read.analyze.html import write

        write(answers, html_path)
        err.print(f"gclog: wrote {html_path}", soft_wrap=True)
    if as_json:
        out.file.write(json.dumps(answers, indent=2) + "\n")
    else:
        from gclog.read.analyze.render import render

        render(answers, out, files.described)
    return 0
