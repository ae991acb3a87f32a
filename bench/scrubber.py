"""The secret scrubber: hostile inputs (each must take under 1 s a megabyte) and throughput.

Hostile inputs are near misses built to make a careless regex backtrack: headers without their
end, names without values, tokens one character short, one endless base64 line. Throughput is
measured on a realistic notebook transcript (pip logs, training progress bars, tracebacks, code,
tables, JSON) at each rule set, with and without the keyword pre-filter, side by side; then the cost
of cutting a 100 MB log to an 8 KiB excerpt, and of the whole record filter per cell record.
"""

from __future__ import annotations

import base64
import json
import random
import statistics
import string
import sys
import time
from collections.abc import Callable

from bench.common import REPO, write_section
from gclog.privacy.excerpt import scrub_excerpt
from gclog.privacy.filter import PrivacyFilter
from gclog.privacy.rules import BLOB_RULES, SECRET_RULES, personal_scrubber, secret_scrubber
from gclog.privacy.scrubber import Scrubber

MB = 1_000_000
LIMIT_S = 1.0
TARGET_MB_S = 3.0


def fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def hostile_inputs() -> dict[str, str]:
    rng = random.Random(1)
    b64 = base64.b64encode(rng.randbytes(MB)).decode()[:MB]
    wrapped = "\n".join(b64[i : i + 64] for i in range(0, MB, 64))[:MB]
    return {
        "PEM headers, never an END": fill("-----BEGIN RSA PRIVATE KEY-----\n"),
        "a PEM header, then 1 MB of base64 lines": "-----BEGIN PRIVATE KEY-----\n" + wrapped,
        "`token=` repeated": fill("token="),
        '`password = "` and no closing quote': fill('password = "aaaaaaaa'),
        "one 1 MB base64 line": b64,
        "1 MB of base64, 64-character lines": wrapped,
        "`eyJ` repeated (JWT starts)": fill("eyJ"),
        "JWT-like parts, no third": fill("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0"),
        "`AKIA` + 15 characters": fill("AKIAABCDEFGHIJKLMNO "),
        "`https://user:pass` without `@`": fill("https://user:pass"),
        "e-mail local parts without a domain": fill("a" * 63 + "@"),
        "`Authorization: Bearer` repeated": fill("Authorization: Bearer "),
        "IP-like dotted numbers": fill("1.2.3."),
        "`sk-` one character short": fill("sk-" + "a1" * 9 + "a "),
        "`hf_` repeated": fill("hf_"),
        "`--password` repeated": fill("--password "),
        "escaped line breaks `\\n`": fill("\\nhf_\\n"),
        "1 MB of one letter": fill("a"),
        "1 MB of blanks": fill(" \n\t"),
    }


def realistic_transcript(size: int = 4 * MB) -> str:
    rng = random.Random(7)

    def rnd(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    blocks = [
        lambda: (
            f"Collecting torch==2.1.{rng.randrange(9)}\n  Downloading torch-2.1.0-cp310-cp310-"
            f"manylinux1_x86_64.whl (670.2 MB)\n     --hash=sha256:{rnd(64, '0123456789abcdef')}\n"
        ),
        lambda: (
            "".join(
                f"\rEpoch {rng.randrange(90)}: {p:3d}%|{'█' * (p // 10):<10}| {p * 5}/500 "
                f"[00:{p // 4:02d}<00:{25 - p // 4:02d}, 15.9it/s, loss=0.{rng.randrange(999):03d}]"
                for p in range(0, 101, 10)
            )
            + "\n"
        ),
        lambda: (
            'Traceback (most recent call last):\n  File "/usr/local/lib/python3.10/site-packages/'
            f'transformers/models/bert/modeling_bert.py", line {rng.randrange(900)}, in forward\n'
            "    return self._call_impl(*args, **kwargs)\nRuntimeError: CUDA out of memory.\n"
        ),
        lambda: (
            "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')\n"
            "tokenizer.pad_token = tokenizer.eos_token\n"
            "enc = tokenizer(texts, max_length=512, truncation=True, padding=True)\n"
        ),
        lambda: (
            "\n".join(
                f"{i:>6}  {rng.random():.6f}  {rng.random():.6f}  {rnd(8)}  {rng.randrange(10**6)}"
                for i in range(8)
            )
            + "\n"
        ),
        lambda: (
            json.dumps(
                {
                    "run": f"{rng.getrandbits(128):032x}",
                    "commit": rnd(40, "0123456789abcdef"),
                    "metrics": {"loss": rng.random(), "acc": rng.random()},
                    "max_tokens": 256,
                }
            )
            + "\n"
        ),
        lambda: (
            f"INFO: step {rng.randrange(10**5)} took {rng.random():.3f}s on /home/user/"
            f"project/data/shard-{rng.randrange(1024):05d}.tar\n"
        ),
    ]
    parts: list[str] = []
    total = 0
    while total < size:
        block = rng.choice(blocks)()
        parts.append(block)
        total += len(block)
    return "".join(parts)[:size]


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def excerpt_of_a_long_log(transcript: str, scrubber: Scrubber) -> float:
    log = fill(transcript, 100 * MB)
    return best_of(3, lambda: scrub_excerpt(log, 8192, scrubber))


def main() -> None:
    everything = personal_scrubber(["nb-4f7c2a91"])
    rows = []
    worst = 0.0
    for name, text in hostile_inputs().items():
        print(f"scrubber: {name} …", file=sys.stderr)
        seconds = best_of(3, lambda text=text: everything.scrub(text))
        worst = max(worst, seconds)
        mark = "✓" if seconds < LIMIT_S else "✗ over 1 s"
        rows.append(f"| {name} | {len(text) / MB:.1f} MB | {seconds * 1000:.0f} ms | {mark} |")
    hostile = "\n".join(
        ["| near miss | size | scrub time (best of 3) | under 1 s |", "|---|---|---|---|", *rows]
    )

    transcript = realistic_transcript()
    size_mb = len(transcript) / MB
    sets = {
        "secrets + blobs (level full)": secret_scrubber(),
        "secrets + blobs, no keyword pre-filter": Scrubber(
            SECRET_RULES + BLOB_RULES, prefilter=False
        ),
        "secrets + personal data + blobs (levels redacted, metadata)": everything,
    }
    throughput = []
    speeds: dict[str, float] = {}
    for label, scrubber in sets.items():
        print(f"scrubber: throughput, {label} …", file=sys.stderr)
        seconds = best_of(3, lambda scrubber=scrubber: scrubber.scrub(transcript))
        speeds[label] = size_mb / seconds
        mark = "✓" if speeds[label] >= TARGET_MB_S else "✗ under target"
        throughput.append(f"| {label} | {speeds[label]:.1f} MB/s | {mark} |")
    through_table = "\n".join(
        [f"| rule set ({size_mb:.0f} MB transcript) | throughput | ≥ {TARGET_MB_S:g} MB/s |",
         "|---|---|---|", *throughput]
    )  # fmt: skip

    with_filter = speeds["secrets + blobs (level full)"]
    without_filter = speeds["secrets + blobs, no keyword pre-filter"]
    excerpt_s = excerpt_of_a_long_log(transcript, everything)
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
        f"Each hostile input is about 1 MB of near misses, scrubbed whole with every rule (level "
        f"`redacted`); each must take under {LIMIT_S:g} s. Worst: **{worst * 1000:.0f} ms**.\n\n"
        f"{hostile}\n\n{through_table}\n\n"
        f"The keyword pre-filter makes the `full` set {with_filter / without_filter:.2f}× as fast; "
        "most of the speed comes from every rule starting with a literal the regex engine scans "
        "for (a rule that starts with a lookbehind instead tries every position).\n\n"
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
    results = {"worst_hostile_s": worst, "mb_per_s": speeds, "excerpt_100mb_s": excerpt_s,
               "record_filter_s": per_record}  # fmt: skip
    (REPO / "bench" / "results" / "scrubber.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
