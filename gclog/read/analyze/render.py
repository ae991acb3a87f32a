"""The answers of ``gclog analyze`` as tables in the terminal: one block per notebook."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _mib(value: float | None) -> str:
    return "?" if value is None else f"{value / 2**20:,.0f} MiB"


def render(answers: dict[str, Any], console: Console, sources: list[str]) -> None:
    console.print(f"gclog analyze: {'; '.join(sources)}", soft_wrap=True)
    k = answers["min_users"]
    if not answers["notebooks"]:
        console.print(f"No notebook has {k} or more users (--min-users {k}).")
        return
    for nb in answers["notebooks"]:
        memory = nb["rss_peak_bytes"]
        console.print()
        console.rule(f"{nb['name'] or '(no name)'} — {nb['notebook']}")
        console.print(
            f"{nb['sessions']} sessions, {nb['users']} users; peak memory per session "
            f"p50 {_mib(memory['p50'])}, p95 {_mib(memory['p95'])}; "
            f"{nb['added_executions']} runs of cells people added",
            soft_wrap=True,
        )
        table = Table(title="cells, in notebook order", title_justify="left")
        for heading in ("#", "reached", "runs", "re-runs", "failed", "edited", "p50 s", "p90 s"):
            table.add_column(heading, justify="right")
        table.add_column("top error")
        for c in nb["cells"]:
            top = c["errors"][0] if c["errors"] else None
            table.add_row(
                str(c["index"]),
                f"{c['reached']} ({_share(c['reached_share'])})",
                str(c["executions"]),
                str(c["reruns"]),
                f"{c['failed_sessions']} ({_share(c['failure_share'])})"
                if c["failed_sessions"]
                else "",
                _share(c["edited_share"]) if c["edited_share"] else "",
                _seconds(c["duration_s"]["p50"]),
                _seconds(c["duration_s"]["p90"]),
                f"{top['signature']} ({top['sessions']})" if top else "",
            )
        console.print(table)
        ends = Table(title="where sessions ended", title_justify="left")
        for heading, justify in (("last cell", "right"), ("reason", "left"), ("sessions", "right")):
            ends.add_column(heading, justify=justify)  # type: ignore[arg-type]
        for e in nb["ends"]:
            where = (
                "none"
                if e["cell"] is None
                else str(e["index"] if e["index"] is not None else "added")
            )
            ends.add_row(where, e["reason"], str(e["sessions"]))
        console.print(ends)
        if nb["failures_by_environment"]:
            env = Table(title="failing cells by environment", title_justify="left")
            for heading in ("#", "facet", "value", "failed / ran"):
                env.add_column(heading)
            for f in nb["failures_by_environment"]:
                env.add_row(
                    str(f["index"]),
                    f["facet"],
                    f["value"],
                    f"{f['failed_sessions']} / {f['sessions']}",
                )
            console.print(env)
    console.print(f"\nGroups of fewer than {k} users are not shown (--min-users).")
