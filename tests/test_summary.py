"""The end-of-run summary keeps counts and the slowest cells, not every record."""

from __future__ import annotations

import io

from rich.console import Console

from gclog.entry.views import CellTally, Summary, print_summary


def _record(index: int, duration: float | None, status: str = "ok") -> dict[str, object]:
    return {
        "index": index,
        "status": status,
        "duration_s": duration,
        "code": f"cell_{index}()\nsecond line",
        "outputs": ["x" * 10_000],  # must not be kept
    }


def test_the_tally_keeps_counts_and_the_three_slowest_earliest_first_on_ties() -> None:
    tally = CellTally()
    durations = [0.5, 2.0, 0.1, 2.0, None, 3.0, 0.2, 2.0]
    for index, duration in enumerate(durations):
        tally.add(_record(index, duration, "error" if index == 2 else "ok"))
    assert tally.counts == {"ok": 7, "error": 1}
    kept = [kept for _, _, kept in sorted(tally.slowest, reverse=True)]
    assert [(k["index"], k["duration_s"]) for k in kept] == [(5, 3.0), (1, 2.0), (3, 2.0)]
    assert kept[0]["code"] == "cell_5()"  # the first line only: no outputs, no whole record
    assert all(set(k) == {"index", "duration_s", "code"} for k in kept)


def test_the_tally_stays_small_however_many_cells() -> None:
    tally = CellTally()
    for index in range(5000):
        tally.add(_record(index, index / 1000))
    assert len(tally.slowest) == 3
    assert tally.counts == {"ok": 5000}


def test_the_summary_prints_counts_and_slowest() -> None:
    tally = CellTally()
    for index, duration in enumerate([0.25, 1.5, 0.75, 0.1]):
        tally.add(_record(index, duration, "error" if index == 3 else "ok"))
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False)
    summary = Summary(None, None, "s-1", "cell_error", "cell 4 raised E", cells=tally)
    print_summary(console, summary, elapsed=2.0)
    text = out.getvalue()
    assert "gclog: cell_error: 3 ok, 1 error in 2.0s — cell 4 raised E" in text
    assert (
        "slowest: cell 2 1.50s (cell_1()), cell 3 0.75s (cell_2()), cell 1 0.25s (cell_0())" in text
    )
