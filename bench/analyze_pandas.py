"""The pandas side of `python -m bench analyze`: reach, failures and ends from the NDJSON file.

Prints ``{notebook: {cell: reached}}`` as JSON, to be compared with `gclog analyze`'s answers.
"""

from __future__ import annotations

import json
import sys

import pandas as pd


def main(path: str) -> None:
    frame = pd.read_json(path, lines=True, dtype=False)
    frame = frame.drop_duplicates("event_id")
    cells = frame[(frame.event_type == "cell") & frame.cell_index.notna()]
    cells = cells[cells.status != "aborted"]
    reached = cells.groupby(["notebook_id", "cell_key"]).session_id.nunique()
    users = cells.groupby(["notebook_id", "cell_key"]).user_id.nunique()
    failed = (
        cells[cells.status == "error"].groupby(["notebook_id", "cell_key"]).session_id.nunique()
    )
    durations = cells.groupby(["notebook_id", "cell_key"]).duration_s.quantile([0.5, 0.9])
    last = frame[frame.event_type == "cell"].sort_values("seq").groupby("session_id").tail(1)
    last = last[["session_id", "cell_key"]]
    ends = frame[frame.event_type == "session_end"][["session_id", "reason"]]
    end_groups = (
        last.merge(ends, on="session_id", how="left").groupby(["cell_key", "reason"]).size()
    )
    del failed, durations, end_groups  # computed, as gclog analyze computes them
    out: dict[str, dict[str, int]] = {}
    for (nb, cell), count in reached.items():
        if users[(nb, cell)] >= 5:
            out.setdefault(nb, {})[cell] = int(count)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
