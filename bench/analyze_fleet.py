"""A generated fleet for `python -m bench analyze`: NDJSON records shaped as gclog writes them."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

NOTEBOOKS = 5
CELLS = 12
USERS = 600


def write_fleet(path: Path, sessions: int, cells_per_session: int, seed: int = 11) -> int:
    """Write the fleet to ``path``; the number of records written (duplicates included)."""
    rng = random.Random(seed)
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for s in range(sessions):
            sid = str(uuid.UUID(int=rng.getrandbits(128)))
            user = f"user-{rng.randrange(USERS)}"
            nb = f"nb-{s % NOTEBOOKS}"
            envelope = (
                f'"schema":"gclog/1","session_id":"{sid}","source":"run","user_id":"{user}",'
                f'"notebook_id":"{nb}","gclog_version":"0.1.0"'
            )
            lines = [
                "{" + envelope + f',"event_id":"{sid}-0","event_type":"session_start","seq":1,'
                f'"notebook":{{"name":"tutorial{s % NOTEBOOKS}.ipynb","code_cells":{CELLS},"visit":1}},'
                '"facets":{"kernel":"python3 / python 3.11","accelerator":"'
                + ("nvidia" if s % 3 else "none")
                + '","frameworks":"torch 2.4.0"}}'
            ]
            stop = CELLS if rng.random() < 0.6 else rng.randrange(1, CELLS)
            t = 1_700_000_000.0 + s * 50
            for n in range(cells_per_session):
                index = min(n * stop // cells_per_session, CELLS - 1)
                status = "ok"
                error = ""
                if index in (4, 9) and rng.random() < 0.02:
                    status = "error"
                    module = rng.choice(["torch_geometric", "optimum"])
                    error = (
                        ',"error":{"ename":"ModuleNotFoundError","evalue":"No module named '
                        f'\'{module}\'","traceback":"..."}}'
                    )
                match = "edited" if rng.random() < 0.05 else "distributed"
                key, idx = f'"c{index}"', str(index)
                if rng.random() < 0.01:
                    match, key, idx = "added", '"mine"', "null"
                duration = round(rng.expovariate(2.0), 6)
                start, t = t + 1.0, t + 1.0 + duration
                lines.append(
                    "{" + envelope + f',"event_id":"{sid}-{n + 1}","event_type":"cell",'
                    f'"seq":{n + 2},"cell_key":{key},"cell_index":{idx},"cell_match":"{match}",'
                    f'"status":"{status}","duration_s":{duration},'
                    f'"times":{{"started_at":"{_iso(start)}","ended_at":"{_iso(t)}"}},'
                    f'"code":"x = {n}\\nprint(x)","code_sha256":"{n:064x}",'
                    f'"output":{{"count":1,"stdout":"{n}\\n"}},'
                    f'"resources":{{"rss_peak_bytes":{rng.randrange(2**27, 2**31)}}}{error}}}'
                )
            lines.append(
                "{" + envelope + f',"event_id":"{sid}-end","event_type":"session_end",'
                f'"seq":{cells_per_session + 2},"reason":"completed","duration_s":{t - 1_700_000_000}}}'
            )
            for line in lines:
                out.write(line + "\n")
            count += len(lines)
            if rng.random() < 0.01 * len(lines) / 10:  # at-least-once: some records twice
                for line in rng.sample(lines, min(10, len(lines))):
                    out.write(line + "\n")
                    count += 1
    json.loads(lines[-1])  # the template is valid JSON
    return count


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
