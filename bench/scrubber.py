"""The secret scrubber: hostile inputs (each must take under 1 s a megabyte) and throughput.

Hostile inputs are near misses built to make a careless regex backtrack: headers without their
end, names without values, tokens one character short, one endless base64 line (see
scrubber_samples.py). Throughput is measured at each privacy level on a clean ~4 MB notebook
transcript and on a dense one (a secret or personal datum every other block), with the keyword
index (one Aho-Corasick pass, windows.py) and without it, the runs interleaved; then the cost of
cutting a 100 MB log to an 8 KiB excerpt, and of the whole record filter per cell record.

The machine is shared while this runs, so each figure is the median of interleaved rounds, in
CPU seconds of this process (``time.process_time``), with wall seconds beside them.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable

from bench.common import REPO, write_section
from bench.scrubber_samples import MB, fill, hostile_inputs, transcript
from gclog.privacy.excerpt import scrub_excerpt
from gclog.privacy.filter import PrivacyFilter
from gclog.privacy.rules import personal_scrubber, secret_scrubber
from gclog.privacy.scrubber import Scrubber

LIMIT_S = 1.0
TARGET_MB_S = 5.0
ROUNDS = 3


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def _without_index(scrubber: Scrubber) -> Scrubber:
    plain = Scrubber(scrubber.rules)
    plain._index = None
    return plain


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def excerpt_of_a_long_log(sample: str, scrubber: Scrubber) -> float:
    log = fill(sample, 100 * MB)
    return best_of(3, lambda: scrub_excerpt(log, 8192, scrubber))


def main() -> None:
    everything = personal_scrubber(["nb-4f7c2a91"])
    rows = []
    worst = 0.0
    for name, text in hostile_inputs().items():
        print(f"scrubber: {name} …", file=sys.stderr)
        runs = [timed(lambda text=text: everything.scrub(text)) for _ in range(ROUNDS)]
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        worst = max(worst, cpu)
        mark = "✓" if cpu < LIMIT_S else "✗ over 1 s"
        rows.append(
            f"| {name} | {len(text) / MB:.1f} MB | {cpu * 1000:.0f} ms | {wall * 1000:.0f} ms "
            f"| {mark} |"
        )
    hostile = "\n".join(
        ["| near miss | size | CPU time (median of 3) | wall | under 1 s |", "|---|---|---|---|---|",
         *rows]
    )  # fmt: skip

    samples = {"clean": transcript(4 * MB), "dense": transcript(4 * MB, dense=True)}
    full = secret_scrubber()
    sets = {
        "`full` (secrets, blobs)": full,
        "`redacted` (default) and `metadata` (+ personal data)": everything,
        "`full`, without the keyword index": _without_index(full),
        "`redacted`, without the keyword index": _without_index(everything),
    }
    cpu: dict[tuple[str, str], list[float]] = {}
    wall: dict[tuple[str, str], list[float]] = {}
    for round_ in range(ROUNDS):
        for sample, text in samples.items():
            for label, scrubber in sets.items():
                print(f"scrubber: round {round_ + 1}, {sample}, {label} …", file=sys.stderr)
                c, w = timed(lambda s=scrubber, t=text: s.scrub(t))
                cpu.setdefault((label, sample), []).append(c)
                wall.setdefault((label, sample), []).append(w)
    speeds = {
        f"{label} / {sample}": len(samples[sample]) / MB / statistics.median(cpu[label, sample])
        for label, sample in cpu
    }
    throughput = []
    for label in sets:
        cells = []
        for sample in samples:
            mb_s = len(samples[sample]) / MB / statistics.median(cpu[label, sample])
            wall_mb_s = len(samples[sample]) / MB / statistics.median(wall[label, sample])
            mark = "✓" if mb_s >= TARGET_MB_S else "✗"
            cells.append(f"{mb_s:.1f} MB/s {mark} (wall {wall_mb_s:.1f})")
        throughput.append(f"| {label} | {' | '.join(cells)} |")
    through_table = "\n".join(
        ["| level (4 MB transcript, CPU time) | clean | dense |",
         "|---|---|---|", *throughput]
    )  # fmt: skip
    dense_sample = samples["dense"]
    found = everything.scrub_counted(dense_sample)[1]

    excerpt_s = excerpt_of_a_long_log(samples["clean"], everything)
    record = {
        "event_type": "cell",
        "event_id": "e",
        "session_id": "s",
        "seq": 3,
        "code": "import torch\nx = torch.randn(3, 3)\nprint(x)",
        "output": {"count": 1, "by_type": {"stream": 1}, "bytes_by_mime": {"stream/stdout": 90},
                   "stdout": "tensor([[0.1, 0.2, 0.3],\n        [0.4, 0.5, 0.6]])\n",
                   "stderr": None, "result": None, "images": []},
        "times": {"queued_at": "2026-12-01T00:00:00.000000Z", "started_at": None, "ended_at": None},
    }  # fmt: skip
    per_record = {}
    for level in ("full", "redacted", "metadata"):
        privacy = PrivacyFilter(level)
        per_record[level] = statistics.median(
            best_of(1, lambda privacy=privacy: privacy(record)) for _ in range(2000)
        )

    body = (
        f"{len(everything.rules)} rules at `redacted` ({len(full.rules)} at `full`). The machine "
        "is a 2-core virtual machine whose speed varies from run to run (up to 2× between runs "
        "an hour apart here): figures are medians of interleaved rounds in CPU seconds of the benchmark's process, wall seconds "
        "beside them.\n\n"
        f"Each hostile input is about 1 MB of near misses, scrubbed whole with every rule (level "
        f"`redacted`); each must take under {LIMIT_S:g} s. Worst: **{worst * 1000:.0f} ms**.\n\n"
        f"{hostile}\n\n"
        f"Throughput, target ≥ {TARGET_MB_S:g} MB/s at the default level on both samples. The dense "
        f"sample holds {sum(found.values())} findings of {len(found)} kinds.\n\n"
        f"{through_table}\n\n"
        "The keyword index is one Aho-Corasick pass (ahocorasick-rs) over the text and its "
        "lowercased copy for every rule's keywords; each rule then reads only windows around its "
        "keywords, as wide as the longest text it can match. Without it, each rule scans the whole "
        f"text (after a `word in text` test per keyword): {len(everything.rules)} scans of 4 MB.\n\n"
        f"A 100 MB log cut to an 8 KiB excerpt (head and tail windows, scrubbed): "
        f"**{excerpt_s * 1000:.0f} ms** — the cost follows the cap, not the log.\n\n"
        "The whole record filter on a typical cell record (median of 2,000): "
        + ", ".join(f"`{lvl}` {sec * 1e6:.0f} µs" for lvl, sec in per_record.items())
        + ".\n\nDESIGN.md §5's reference points: a regex set like this ~0.3 s/MB; detect-secrets "
        "~4 s/MB with false positives on base64."
    )
    print(body)
    write_section("scrubber", "Secret scrubber", "make bench  (python -m bench scrubber)", body)
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    results = {"worst_hostile_cpu_s": worst, "mb_per_s_cpu": speeds, "excerpt_100mb_s": excerpt_s,
               "record_filter_s": per_record}  # fmt: skip
    (REPO / "bench" / "results" / "scrubber.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
